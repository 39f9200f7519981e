/* A session as plain data: what a new mttd needs to go on with it after a restart (issue:
 * sessions outlive mttd). A snapshot is one JSON document, versioned: {"version": 1,
 * "sessions": [...]}, each session its identity, options, phase, baseline, the rows module's
 * position, its write accounting and the text not yet written. What is not data (its report
 * fd, its client's pidfd, its connection, its source) travels apart, named by the session's
 * id, and is attached by whoever adopts it. Pure. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "session.h"

#define MTTD_SNAPSHOT_VERSION 1

/* One session's record. NULL when out of memory. */
json_t *mttd_snapshot_session(const mttd_session *s);
/* A new session from its record: everything but its fd (-1), peer, owner and source. 0, or
 * -EINVAL with *why saying which field is missing or wrong, or -ENOMEM. */
int mttd_snapshot_restore(const json_t *record, mttd_session **out, const char **why);

/* The document for sessions (an array of records, taken). NULL when out of memory. */
json_t *mttd_snapshot_new(json_t *sessions);
/* Parses a document: 0 with *sessions (a new reference to its array of records), -EBADMSG
 * when it is not whole JSON (a truncated state), -EPROTONOSUPPORT for a version this mttd
 * does not know, -EINVAL when it has no sessions; *why says so in words. */
int mttd_snapshot_parse(const char *text, size_t len, json_t **sessions, const char **why);

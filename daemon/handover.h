/* A new mttd takes up what the last one kept (keep.h): at start, from the fds systemd passes
 * (its store after a restart or a crash) or the last mttd passed across exec; and the
 * re-exec itself, for an mttd run by hand: every fd a new mttd needs, named, on fds 3.. as
 * socket activation passes them, and exec. */
#pragma once

#include "fdstore.h"
#include "server.h"
#include "tracker.h"

/* Takes up the connections and sessions passed (those taken leave st). Logs what it took
 * and what it could not (those sessions end in error, saying why). */
void mttd_handover_adopt(mttd_fdstore *st, mttd_tracker *t, mttd_server *srv);

/* The program to exec: this one's file as it is now (a new binary where an upgrade put it). 0
 * or -errno (it is not there, or not executable). */
int mttd_handover_program(char *path, size_t size);
/* Execs path with argv, passing the listening socket, the connections and every unfinished
 * session's report, state and pidfd (after mttd_tracker_keep_all). Returns only on failure:
 * -errno. */
int mttd_handover_exec(const char *path, char **argv, mttd_tracker *t, mttd_server *srv);

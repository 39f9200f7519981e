/* Text from clients (labels, causes, jobs) made fit for a terminal or a log line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
size_t mtt_proto_utf8_seq(const unsigned char *p);
/* Whether s is UTF-8 as jansson takes it (no overlong form, no surrogate, nothing past
 * U+10FFFF): what a label must be to travel in a call. */
bool mtt_proto_utf8_valid(const char *s);
/* Replaces, in place, with '?' (one per byte): C0 controls and DEL, C1 controls, bytes that
 * are not UTF-8, and the bidirectional controls (U+061C, U+200E, U+200F, U+202A to U+202E,
 * U+2066 to U+2069) that would make a terminal or a log viewer show text in another order
 * than it is (a label that reverses the rest of its line). */
void mtt_proto_printable(char *s);
/* Why job cannot be Open's job: longer than MTT_PROTO_JOB_MAX bytes, not UTF-8, or with a
 * control character (a byte below 0x20, or 0x7f); NULL when it can. It is a name other
 * tools match on (a metrics label, a workload manager's id): refused, never cleaned. */
const char *mtt_proto_job_unfit(const char *job);

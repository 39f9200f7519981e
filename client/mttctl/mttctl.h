/* mttctl: shared pieces of the commands. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "proto/connection.h"

/* Exit codes beside a tracked command's own: 0 ok, 1 failure, 2 bad usage. */
enum { MTTCTL_OK = 0, MTTCTL_FAILURE = 1, MTTCTL_USAGE = 2 };
/* mttctl run: tracking could not start, the command could not run, or was not found. */
enum { MTTCTL_RUN_NO_TRACKING = 125, MTTCTL_RUN_CANNOT_EXEC = 126, MTTCTL_RUN_NOT_FOUND = 127 };

extern const char *mttctl_socket; /* --socket, or NULL */

/* Prints "mttctl: ..." to stderr. */
void mttctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A one-line error, then how to get help; returns MTTCTL_USAGE. */
int mttctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says that mttd cannot be reached at path, and how to start one. */
void mttctl_unreachable(const char *path, int err);

/* Connects to mttd; on failure says which socket it tried and how to start mttd. */
int mttctl_connect(mtt_proto_conn *c);
/* Says what a varlink error reply means. */
void mttctl_reply_error(const mtt_proto_reply *reply);
/* Calls a method on mttd. Returns the reply's parameters (a new reference) or NULL after
 * printing what went wrong: which socket it tried and how to start mttd, or the error. */
json_t *mttctl_call(const char *method, json_t *params);

int mttctl_list(int argc, char **argv);
int mttctl_status(int argc, char **argv);
int mttctl_run(int argc, char **argv);
int mttctl_check(int argc, char **argv);
int mttctl_sample(int argc, char **argv);
int mttctl_watch(int argc, char **argv);
int mttctl_plot(int argc, char **argv);

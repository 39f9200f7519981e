/* Integration test harness: a real mttd on a socket in a temporary directory, raw varlink
 * calls, and checks of report files against SPEC 2. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "mtt/client.h"
#include <stdbool.h>
#include <sys/types.h>

typedef struct harness {
        char dir[64];
        char socket[108]; /* sun_path */
        char log[128];
        char valgrind_log[128];
        bool valgrind; /* $MTT_TEST_VALGRIND: mttd runs under memcheck */
        pid_t pid;
} harness;

/* Starts mttd with extra arguments (NULL-terminated list, may be NULL) and waits until its
 * socket accepts. Returns 0 or -1. With $MTT_TEST_VALGRIND set, mttd runs under valgrind's
 * memcheck, and harness_stop fails unless it found no error and no fd left open. */
int harness_start(harness *h, const char *const *extra_args);
/* SIGTERM, wait, and the exit status (or -1, or valgrind's complaint); removes the
 * directory when remove_dir. */
int harness_stop(harness *h, bool remove_dir);
/* main's exit status after a group of tests that shared h's mttd: it must also stop
 * cleanly (exit 0 after SIGTERM, and under valgrind no error and no fd left open). */
int harness_finish(harness *h, int failed_tests);
/* A path inside the test directory. */
const char *harness_path(const harness *h, const char *name, char *buf, size_t size);

/* Connects to the harness's mttd; returns the fd or -1. */
int harness_connect(const harness *h);
/* Sends raw bytes (a whole message with its NUL, or any garbage) and waits up to 5 s for a
 * reply frame; returns the parsed reply (new reference) or NULL on EOF, timeout or junk. */
json_t *harness_raw(int fd, const char *bytes, size_t len, const int *fds, size_t n_fds);
/* A call with JSON text parameters ("{}" or NULL for none). */
json_t *harness_call(int fd, const char *method, const char *params_json, const int *fds,
                     size_t n_fds);
/* Whether mttd closes fd (EOF after whatever it sent) within ms. */
bool harness_closed_within(int fd, int ms);
/* Opens a session (libmtt-client) into NAME.csv in the test directory, labelled NAME; its
 * path goes to path. NULL when mtt_open fails. */
mtt_session *harness_open(const harness *h, const char *name, char *path, size_t size);
/* Whether a fresh client completes a session (the report NAME.csv in the test directory):
 * mttd serves normally. */
bool harness_session_completes(const harness *h, const char *name);
/* The error name of a reply, or NULL for a successful one. */
const char *harness_error(const json_t *reply);

/* A pipe whose buffer is full (and small): a report written into p[1] stalls until
 * somebody reads p[0]. Both ends close-on-exec, p[1] blocking. Returns 0 or -1. */
int harness_full_pipe(int p[2]);
/* A fake /proc/meminfo (for mttd --meminfo) whose "used" (MemTotal - MemFree - Buffers -
 * Cached - Slab) is used_kb: fixed-width numbers, rewritten in place, since mttd keeps the
 * file open and must never read half of one value and half of another. 0 or -1. */
int harness_write_meminfo(const char *path, long long used_kb);
/* A new fake meminfo at a unique path made from path_template ("...XXXXXX", rewritten in
 * place), with used_kb in use. 0 or -1. */
int harness_fake_meminfo(char *path_template, long long used_kb);
/* The file's contents (malloc'ed, NUL-terminated) or NULL. */
char *harness_read_file(const char *path);

typedef enum { ENDING_COMPLETED, ENDING_FAILED, ENDING_NONE } harness_ending;
/* Checks a report: header "delta,ram", data rows "D.DDDDDD,R.RRRRRR" with strictly
 * increasing delta, whole lines, and exactly the given ending. Returns NULL when it holds,
 * else a static description of the first violation. *rows gets the data row count. */
const char *harness_check_report(const char *text, harness_ending ending, int *rows);
/* The delta of a report's last line (a data row when it has no ending). */
double harness_last_delta(const char *text);

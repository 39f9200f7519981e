/* mttd's log. Under systemd with stderr on the journal (JOURNAL_STREAM), entries go to the
 * journal with structured fields; otherwise one line per event on stderr: with a "<N>"
 * syslog priority prefix when stderr is not a terminal (what journald and syslog read), in
 * words on a terminal. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <syslog.h>

void mttd_log_init(void);
void mttd_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A session's start or end, with MTT_SESSION_ID, MTT_LABEL, MTT_PID, MTT_UID and, when given,
 * MTT_OUTCOME and MTT_CAUSE as journal fields. */
typedef struct mttd_log_session {
        uint64_t id;
        const char *label;
        pid_t pid;
        uid_t uid;
        const char *outcome; /* NULL at the start */
        const char *cause;   /* NULL when unknown */
} mttd_log_session;

void mttd_log_session_event(int priority, const mttd_log_session *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

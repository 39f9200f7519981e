/* Logging to the journal or stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "proto/interface.h"
#include "proto/text.h"

static enum { TO_TERMINAL, TO_STREAM, TO_JOURNAL } target;

/* JOURNAL_STREAM names the device and inode of the stream systemd connected stderr to. */
void mttd_log_init(void)
{
        const char *js = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
            st.st_dev == dev && st.st_ino == ino)
                target = TO_JOURNAL;
        else
                target = isatty(2) ? TO_TERMINAL : TO_STREAM;
}

__attribute__((format(printf, 3, 0))) static void format(char *line, size_t size, const char *fmt,
                                                         va_list ap)
{
        vsnprintf(line, size, fmt, ap);
        /* Labels and causes come from clients: they must not forge lines or priorities, nor
         * turn the rest of a line around (bidirectional controls). */
        mtt_proto_printable(line);
}

static void to_stderr(int priority, const char *line)
{
        static const char *const words[] = {"emergency", "alert",  "critical", "error",
                                            "warning",   "notice", "info",     "debug"};
        priority &= 7;
        if (target != TO_TERMINAL)
                fprintf(stderr, "<%d>%s\n", priority, line);
        else if (priority <= LOG_WARNING)
                fprintf(stderr, "mttd: %s: %s\n", words[priority], line);
        else
                fprintf(stderr, "mttd: %s\n", line);
}

void mttd_log(int priority, const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        format(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (target == TO_JOURNAL)
                sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", priority & 7,
                                "SYSLOG_IDENTIFIER=mttd", NULL);
        else
                to_stderr(priority, line);
}

void mttd_log_session_event(int priority, const mttd_log_session *s, const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        format(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (target != TO_JOURNAL) {
                to_stderr(priority, line);
                return;
        }
        /* Field values are the client's text: journal fields take any bytes but newlines
         * would end them, so they get the same cleaning as the message. */
        char label[300], cause[1100];
        snprintf(label, sizeof(label), "%s", s->label ? s->label : "");
        snprintf(cause, sizeof(cause), "%s", s->cause ? s->cause : "");
        mtt_proto_printable(label);
        mtt_proto_printable(cause);
        sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", priority & 7, "SYSLOG_IDENTIFIER=mttd",
                        "MTT_SESSION_ID=%llu", (unsigned long long)s->id, "MTT_LABEL=%s", label,
                        "MTT_PID=%d", (int)s->pid, "MTT_UID=%u", (unsigned)s->uid, "MTT_OUTCOME=%s",
                        s->outcome ? s->outcome : MTT_PROTO_RUNNING, "MTT_CAUSE=%s", cause, NULL);
}

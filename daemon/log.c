/* Logging to stderr, journal-aware. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static bool to_journal;

/* JOURNAL_STREAM names the device and inode of the stream systemd connected stderr to. */
void mttd_log_init(void)
{
        const char *js = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
                     st.st_dev == dev && st.st_ino == ino;
}

void mttd_log(int priority, const char *fmt, ...)
{
        static const char *const words[] = {"emergency", "alert",  "critical", "error",
                                            "warning",   "notice", "info",     "debug"};
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        /* Labels and causes come from clients: they must not forge lines or priorities. */
        for (char *p = line; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        priority &= 7;
        if (to_journal)
                fprintf(stderr, "<%d>%s\n", priority, line);
        else if (priority <= LOG_WARNING)
                fprintf(stderr, "mttd: %s: %s\n", words[priority], line);
        else
                fprintf(stderr, "mttd: %s\n", line);
}

/* Report files into plot series, over the library's one reader (client/lib/report.c). */
#include "series.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/lib/report.h"

static void set_name(mttctl_series *s, const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        s->name = strdup(base);
        char *dot = s->name ? strrchr(s->name, '.') : NULL;
        if (dot && dot != s->name && strcmp(dot, ".csv") == 0)
                *dot = '\0';
}

int mttctl_series_read(const char *path, mttctl_series *out, char *err, size_t err_size)
{
        memset(out, 0, sizeof(*out));
        mtt_report r;
        int ret = mtt_report_read(path, true, &r);
        if (ret < 0) {
                snprintf(err, err_size, "%s", ret == -ENOENT ? "no such file" : strerror(-ret));
                return ret;
        }
        if (r.verdict == MTT_REPORT_NOT_A_REPORT) {
                snprintf(err, err_size, "not a report: %s", r.reason);
                return -EINVAL;
        }
        /* The sentinels go: "0,0" after a completed run, "0,0" and "-1,-1" after a graceful
         * crash. What is left may be nothing: the header alone is a client killed right after
         * Open, a series of no points (a lone ending is dropped as the seed drops it). */
        size_t drop = r.verdict == MTT_REPORT_COMPLETED            ? 1
                      : r.verdict == MTT_REPORT_CRASHED_GRACEFULLY ? 2
                                                                   : 0;
        *out = (mttctl_series){
            .t = r.t, .gib = r.gib, .n = r.n > drop ? r.n - drop : 0, .verdict = r.verdict};
        set_name(out, path);
        if (!out->name) {
                mttctl_series_free(out);
                snprintf(err, err_size, "out of memory");
                return -ENOMEM;
        }
        return 0;
}

void mttctl_series_free(mttctl_series *s)
{
        free(s->t);
        free(s->gib);
        free(s->name);
        memset(s, 0, sizeof(*s));
}

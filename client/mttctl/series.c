/* Report files into plot series. */
#include "series.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(mttctl_series *s, size_t *cap, double t, double gib)
{
        if (s->n == *cap) {
                size_t c = *cap ? *cap * 2 : 256;
                double *nt = realloc(s->t, c * sizeof(double));
                if (!nt)
                        return -1;
                s->t = nt;
                double *ng = realloc(s->gib, c * sizeof(double));
                if (!ng)
                        return -1;
                s->gib = ng;
                *cap = c;
        }
        s->t[s->n] = t;
        s->gib[s->n] = gib;
        s->n++;
        return 0;
}

static void set_name(mttctl_series *s, const char *path)
{
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        s->name = strdup(base);
        char *dot = s->name ? strrchr(s->name, '.') : NULL;
        if (dot && dot != s->name && strcmp(dot, ".csv") == 0)
                *dot = '\0';
}

/* "delta,ram": two finite numbers, spaces around them allowed. */
static bool parse_row(const char *line, double *t, double *gib)
{
        char *comma, *end;
        *t = strtod(line, &comma);
        if (comma == line || *comma != ',')
                return false;
        *gib = strtod(comma + 1, &end);
        if (end == comma + 1)
                return false;
        end += strspn(end, " \t");
        return *end == '\0' && isfinite(*t) && isfinite(*gib);
}

int mttctl_series_read(const char *path, mttctl_series *out, char *err, size_t err_size)
{
        memset(out, 0, sizeof(*out));
        int r = mtt_report_verdict_of(path, &out->verdict);
        if (r < 0) {
                snprintf(err, err_size, "%s", r == -ENOENT ? "no such file" : strerror(-r));
                return -1;
        }
        FILE *f = fopen(path, "re");
        if (!f) {
                snprintf(err, err_size, "%s", strerror(errno));
                return -1;
        }
        char line[256];
        size_t cap = 0, lineno = 0, bad = 0;
        int ret = 0;
        while (ret == 0 && fgets(line, sizeof(line), f)) {
                lineno++;
                line[strcspn(line, "\r\n")] = '\0';
                if (lineno > 1 && line[strspn(line, " \t")] == '\0')
                        continue; /* a blank line, as the seed's files may end */
                if (lineno == 1) {
                        if (strcmp(line, "delta,ram") != 0) {
                                snprintf(err, err_size,
                                         "not a report: the first line is not \"delta,ram\"");
                                ret = -1;
                        }
                        continue;
                }
                double t, gib;
                if (bad) { /* a bad line before this one: not a torn last line */
                        ret = -1;
                } else if (!parse_row(line, &t, &gib)) {
                        bad = lineno;
                } else if (push(out, &cap, t, gib) < 0) {
                        snprintf(err, err_size, "out of memory");
                        ret = -1;
                }
        }
        /* A run killed mid-write may leave its last line torn: that line alone is skipped. */
        if (bad && (ret < 0 || out->verdict != MTT_REPORT_CRASHED_UNGRACEFULLY)) {
                snprintf(err, err_size, "not a report: line %zu is not \"delta,ram\"", bad);
                ret = -1;
        }
        fclose(f);
        if (ret == 0 && lineno == 0) {
                snprintf(err, err_size, "not a report: the file is empty");
                ret = -1;
        }
        /* The sentinels go: "0,0" after a completed run, "0,0" and "-1,-1" after a graceful
         * crash. */
        size_t drop = out->verdict == MTT_REPORT_COMPLETED            ? 1
                      : out->verdict == MTT_REPORT_CRASHED_GRACEFULLY ? 2
                                                                      : 0;
        if (ret == 0 && out->n < drop + 1) {
                snprintf(err, err_size, "not a report: no data rows");
                ret = -1;
        }
        if (ret < 0) {
                mttctl_series_free(out);
                return -1;
        }
        out->n -= drop;
        set_name(out, path);
        return 0;
}

void mttctl_series_free(mttctl_series *s)
{
        free(s->t);
        free(s->gib);
        free(s->name);
        memset(s, 0, sizeof(*s));
}

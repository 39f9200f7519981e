/* A report file as a series of (seconds, GiB) points for plotting: the seed's sentinel rows
 * dropped as its own plot_reports drops them (one line for a completed run, two for a
 * graceful crash), and how the run ended. Reads mtt's files and the seed's alike. */
#pragma once

#include <stddef.h>

#include "mtt/client.h"

typedef struct mttctl_series {
        char *name; /* the file's base name, without ".csv" */
        double *t, *gib;
        size_t n; /* 0 for a report without data rows: no line, a legend entry */
        mtt_report_verdict verdict;
} mttctl_series;

/* Reads path with the library's reader. On failure returns -errno with why in err ("not a
 * report: ...", "no such file", "Is a directory"). */
int mttctl_series_read(const char *path, mttctl_series *out, char *err, size_t err_size);
void mttctl_series_free(mttctl_series *s);

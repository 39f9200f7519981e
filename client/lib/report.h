/* The one reader of report files, behind the verdicts, `mttctl check` and `mttctl plot`.
 * Internal: hidden, so the shared library does not export it; mttctl links the static one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mtt/client.h"

#define MTT_HIDDEN __attribute__((visibility("hidden")))

typedef struct mtt_report {
        mtt_report_verdict verdict;
        char reason[64]; /* for MTT_REPORT_NOT_A_REPORT: why, e.g. "the file is empty" */
        double *t, *gib; /* with keep_rows: every row read, the endings' too; else NULL */
        size_t n;
} mtt_report;

/* Reads the file at path whole, in time bounded by its size: anything but a regular file is
 * not a report and is never opened, so no FIFO or device can block it. Returns 0 with *out
 * set (its verdict may be MTT_REPORT_NOT_A_REPORT), or a negative errno when the file cannot
 * be read (-ENOENT, -EISDIR, -EACCES, -ENOMEM); *out is written only on success. */
MTT_HIDDEN int mtt_report_read(const char *path, bool keep_rows, mtt_report *out);
/* Frees r's rows; r may hold none. */
MTT_HIDDEN void mtt_report_free(mtt_report *r);

/* Which samples of a session become report rows: the schedule, lossless compaction (a row
 * equal to both neighbours is dropped) and peak preservation (the highest sample between two
 * rows becomes its own row when it stands above both). Pure: samples in, rows out through
 * a callback, times in microseconds since the session opened. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "schedule.h"

typedef void (*mttd_row_sink)(void *ctx, uint64_t t_us, int64_t kb);

/* mttd's default for mttd_rows_set_peak_min: the kernel's counters jitter by a few hundred
 * kB all the time, and a row for each such blip would double a long run's file for nothing. */
#define MTTD_ROWS_PEAK_MIN_KB 1024

typedef struct mttd_point {
        uint64_t t_us;
        int64_t kb;
} mttd_point;

typedef struct mttd_rows {
        mttd_schedule schedule;
        uint64_t next_due_us;
        mttd_point last;     /* the last row handed to the sink */
        mttd_point held;     /* the latest row of a flat run, not yet handed over */
        mttd_point max;      /* the highest sample since the last scheduled row */
        int64_t peak_min_kb; /* a peak row must stand this far above both neighbours */
        bool have_held, have_max;
        mttd_row_sink sink;
        void *ctx;
} mttd_rows;

/* Writes the row at delta 0. */
void mttd_rows_start(mttd_rows *r, const mttd_schedule *s, int64_t kb, mttd_row_sink sink,
                     void *ctx);
/* Peak rows only for peaks more than kb above both neighbours (0, the default after start:
 * any peak above both). */
void mttd_rows_set_peak_min(mttd_rows *r, int64_t kb);
/* Feeds one sample; writes whatever rows it settles. */
void mttd_rows_feed(mttd_rows *r, uint64_t t_us, int64_t kb);
/* The last row: always written (unless it falls in the same microsecond as the previous). */
void mttd_rows_finish(mttd_rows *r, uint64_t t_us, int64_t kb);
uint64_t mttd_rows_next_due(const mttd_rows *r);

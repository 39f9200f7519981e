/* Row selection: schedule, compaction, peaks. */
#include "rows.h"

static void emit(mttd_rows *r, mttd_point p)
{
        r->sink(r->ctx, p.t_us, p.kb);
        r->last = p;
}

/* Compaction: a row equal to the last one is held back as the end of a flat run; it is
 * written only when the run ends with a different value. */
static void put(mttd_rows *r, mttd_point p)
{
        uint64_t latest = r->have_held ? r->held.t_us : r->last.t_us;
        if (p.t_us <= latest)
                return;
        if (p.kb == r->last.kb) {
                r->held = p;
                r->have_held = true;
                return;
        }
        if (r->have_held) {
                emit(r, r->held);
                r->have_held = false;
        }
        emit(r, p);
}

/* A peak between rows gets its own row when it stands above both neighbours. */
static void put_peak(mttd_rows *r, int64_t next_kb)
{
        if (r->have_max && r->max.kb > r->last.kb + r->peak_min_kb &&
            r->max.kb > next_kb + r->peak_min_kb)
                put(r, r->max);
        r->have_max = false;
}

void mttd_rows_start(mttd_rows *r, const mttd_schedule *s, int64_t kb, mttd_row_sink sink,
                     void *ctx)
{
        *r = (mttd_rows){.schedule = *s, .sink = sink, .ctx = ctx};
        emit(r, (mttd_point){0, kb});
        r->next_due_us = mttd_schedule_next(s, 0);
}

void mttd_rows_feed(mttd_rows *r, uint64_t t_us, int64_t kb)
{
        if (t_us < r->next_due_us) {
                if (!r->have_max || kb > r->max.kb) {
                        r->max = (mttd_point){t_us, kb};
                        r->have_max = true;
                }
                return;
        }
        put_peak(r, kb);
        put(r, (mttd_point){t_us, kb});
        r->next_due_us = mttd_schedule_next(&r->schedule, t_us);
}

void mttd_rows_finish(mttd_rows *r, uint64_t t_us, int64_t kb)
{
        put_peak(r, kb);
        uint64_t latest = r->have_held ? r->held.t_us : r->last.t_us;
        if (t_us <= latest) {
                /* Same microsecond as the latest row: that row is the last one. */
                if (r->have_held)
                        emit(r, r->held);
        } else {
                if (r->have_held && kb != r->last.kb)
                        emit(r, r->held);
                emit(r, (mttd_point){t_us, kb});
        }
        r->have_held = false;
}

void mttd_rows_set_peak_min(mttd_rows *r, int64_t kb)
{
        r->peak_min_kb = kb;
}

uint64_t mttd_rows_next_due(const mttd_rows *r)
{
        return r->next_due_us;
}

/* Unit tests for daemon/rows.h: which samples become report rows (schedule, compaction, peaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rows.h"

#define MS 1000u
#define S  1000000u

/* A sink that records every row it is handed. */
typedef struct recorder {
        mttd_point *rows;
        size_t n, cap;
} recorder;

static void record(void *ctx, uint64_t t_us, int64_t kb)
{
        recorder *rec = ctx;
        if (rec->n == rec->cap) {
                rec->cap = rec->cap ? rec->cap * 2 : 64;
                rec->rows = realloc(rec->rows, rec->cap * sizeof(*rec->rows));
                assert_non_null(rec->rows);
        }
        rec->rows[rec->n++] = (mttd_point){t_us, kb};
}

static void recorder_free(recorder *rec)
{
        free(rec->rows);
        *rec = (recorder){0};
}

/* First row at 0, strictly increasing times, no row equal to both its neighbours. */
static void assert_well_formed(const recorder *rec)
{
        assert_true(rec->n >= 1);
        assert_int_equal(rec->rows[0].t_us, 0);
        for (size_t i = 1; i < rec->n; i++)
                assert_true(rec->rows[i].t_us > rec->rows[i - 1].t_us);
        for (size_t i = 1; i + 1 < rec->n; i++)
                assert_false(rec->rows[i - 1].kb == rec->rows[i].kb &&
                             rec->rows[i].kb == rec->rows[i + 1].kb);
}

/* The written curve (linear between rows) passes exactly through (t, kb). */
static void assert_on_curve(const recorder *rec, uint64_t t, int64_t kb)
{
        for (size_t i = 0; i < rec->n; i++) {
                const mttd_point *a = &rec->rows[i];
                if (a->t_us == t) {
                        assert_int_equal(a->kb, kb);
                        return;
                }
                if (i + 1 < rec->n && a->t_us < t && t < rec->rows[i + 1].t_us) {
                        const mttd_point *b = &rec->rows[i + 1];
                        assert_true((kb - a->kb) * (int64_t)(b->t_us - a->t_us) ==
                                    (b->kb - a->kb) * (int64_t)(t - a->t_us));
                        return;
                }
        }
        fail_msg("t=%llu lies after the last row", (unsigned long long)t);
}

static void assert_rows(const recorder *rec, const mttd_point *want, size_t n)
{
        assert_int_equal(rec->n, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(rec->rows[i].t_us, want[i].t_us);
                assert_int_equal(rec->rows[i].kb, want[i].kb);
        }
}

static void test_first_row_at_zero(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, -123, record, &rec);
        assert_rows(&rec, (mttd_point[]){{0, -123}}, 1);
        assert_int_equal(mttd_rows_next_due(&r), 1 * MS);
        recorder_free(&rec);
}

static void test_flat_series_first_and_last_only(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 500, record, &rec);
        for (uint64_t t = 1 * MS; t <= 10 * S; t += 1 * MS)
                mttd_rows_feed(&r, t, 500);
        assert_int_equal(rec.n, 1);
        mttd_rows_finish(&r, 10 * S + 1 * MS, 500);
        assert_rows(&rec, (mttd_point[]){{0, 500}, {10 * S + 1 * MS, 500}}, 2);
        recorder_free(&rec);
}

static void test_flat_runs_keep_their_ends(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 1 * MS};
        const int64_t v[] = {1, 1, 2, 2, 2, 1};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 1, record, &rec);
        for (size_t i = 0; i < 6; i++)
                mttd_rows_feed(&r, (i + 1) * MS, v[i]);
        mttd_rows_finish(&r, 7 * MS, 1);
        const mttd_point want[] = {{0, 1},      {2 * MS, 1}, {3 * MS, 2},
                                   {5 * MS, 2}, {6 * MS, 1}, {7 * MS, 1}};
        assert_rows(&rec, want, 6);
        recorder_free(&rec);
}

/* A piecewise series: plateaus, ramps up and down, steps, negative values. */
static int64_t piecewise(uint64_t t)
{
        if (t < 100 * MS)
                return 1000;
        if (t < 300 * MS)
                return 1000 + (int64_t)(t - 100 * MS) / 100; /* up to 3000 */
        if (t < 800 * MS)
                return 3000;
        if (t < 2 * S)
                return 500;
        if (t < 5 * S)
                return 500 - (int64_t)(t - 2 * S) / 4000; /* down to -250 */
        return -250;
}

static void run_piecewise(const mttd_schedule *s, uint64_t step_us, uint64_t end_us)
{
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, s, piecewise(0), record, &rec);
        mttd_point *sched = calloc(end_us / step_us + 2, sizeof(*sched));
        assert_non_null(sched);
        size_t n_sched = 0;
        sched[n_sched++] = (mttd_point){0, piecewise(0)};
        for (uint64_t t = step_us; t < end_us; t += step_us) {
                if (t >= mttd_rows_next_due(&r))
                        sched[n_sched++] = (mttd_point){t, piecewise(t)};
                mttd_rows_feed(&r, t, piecewise(t));
        }
        mttd_rows_finish(&r, end_us, piecewise(end_us));
        sched[n_sched++] = (mttd_point){end_us, piecewise(end_us)};

        assert_well_formed(&rec);
        assert_int_equal(rec.rows[rec.n - 1].t_us, end_us);
        for (size_t i = 0; i < n_sched; i++)
                assert_on_curve(&rec, sched[i].t_us, sched[i].kb);
        /* Compaction did drop rows: the plateaus cost next to nothing. */
        assert_true(rec.n < n_sched);
        assert_true(rec.n <= 2 * n_sched);
        free(sched);
        recorder_free(&rec);
}

static void test_piecewise_interpolation_exact(void **state)
{
        const mttd_schedule log_sched = {.min_us = 1 * MS, .max_us = 60 * S};
        run_piecewise(&log_sched, 1 * MS, 8 * S);
        run_piecewise(&log_sched, 700, 8 * S);
        const mttd_schedule fixed = {.min_us = 50 * MS, .max_us = 50 * MS};
        run_piecewise(&fixed, 10 * MS, 8 * S);
}

static void test_spike_gets_its_own_row(void **state)
{
        const mttd_schedule s = {.min_us = 1 * S, .max_us = 1 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 1000, record, &rec);
        for (uint64_t t = 10 * MS; t <= 4 * S; t += 10 * MS) {
                int64_t v = 1000;
                if (t >= 1500 * MS && t < 1550 * MS) /* 5 samples, 50 ms */
                        v = 5000;
                if (t >= 2500 * MS && t < 2550 * MS) /* a smaller one after it */
                        v = 3000;
                mttd_rows_feed(&r, t, v);
        }
        mttd_rows_finish(&r, 4 * S, 1000);
        assert_well_formed(&rec);
        assert_int_equal(rec.n, 7);
        assert_int_equal(rec.rows[1].t_us, 1 * S);
        assert_int_equal(rec.rows[1].kb, 1000);
        assert_in_range(rec.rows[2].t_us, 1500 * MS, 1540 * MS);
        assert_int_equal(rec.rows[2].kb, 5000);
        assert_int_equal(rec.rows[3].t_us, 2 * S);
        assert_int_equal(rec.rows[3].kb, 1000);
        assert_in_range(rec.rows[4].t_us, 2500 * MS, 2540 * MS);
        assert_int_equal(rec.rows[4].kb, 3000);
        assert_int_equal(rec.rows[5].t_us, 3 * S);
        assert_int_equal(rec.rows[5].kb, 1000);
        assert_int_equal(rec.rows[6].t_us, 4 * S);
        assert_int_equal(rec.rows[6].kb, 1000);
        recorder_free(&rec);
}

/* A drop between two scheduled rows is no peak: nothing above both neighbours. */
static void test_step_down_adds_no_row(void **state)
{
        const mttd_schedule s = {.min_us = 1 * S, .max_us = 1 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 100, record, &rec);
        for (uint64_t t = 10 * MS; t <= 3 * S; t += 10 * MS)
                mttd_rows_feed(&r, t, t < 1500 * MS ? 100 : 50);
        mttd_rows_finish(&r, 3 * S, 50);
        const mttd_point want[] = {{0, 100}, {1 * S, 100}, {2 * S, 50}, {3 * S, 50}};
        assert_rows(&rec, want, 4);
        recorder_free(&rec);
}

/* The next row is due one interval after the sample that was written, not after its due time. */
static void test_schedule_runs_from_written_sample(void **state)
{
        const mttd_schedule s = {.min_us = 100 * MS, .max_us = 100 * MS};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 0, record, &rec);
        for (uint64_t t = 30 * MS; t <= 960 * MS; t += 30 * MS) {
                mttd_rows_feed(&r, t, (int64_t)t); /* rising: every row is kept, no peaks */
                assert_int_equal(mttd_rows_next_due(&r), rec.rows[rec.n - 1].t_us + 100 * MS);
        }
        mttd_rows_finish(&r, 960 * MS, 960 * MS);
        assert_int_equal(rec.n, 9);
        for (size_t i = 0; i < rec.n; i++)
                assert_int_equal(rec.rows[i].t_us, i * 120 * MS);
        recorder_free(&rec);
}

static void test_spike_before_finish(void **state)
{
        const mttd_schedule s = {.min_us = 1 * S, .max_us = 1 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 10, record, &rec);
        for (uint64_t t = 10 * MS; t < 600 * MS; t += 10 * MS)
                mttd_rows_feed(&r, t, t == 300 * MS ? 99 : 10);
        mttd_rows_finish(&r, 600 * MS, 10);
        assert_rows(&rec, (mttd_point[]){{0, 10}, {300 * MS, 99}, {600 * MS, 10}}, 3);
        recorder_free(&rec);
}

static void test_ramp_adds_no_peaks(void **state)
{
        const mttd_schedule s = {.min_us = 100 * MS, .max_us = 100 * MS};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 0, record, &rec);
        for (uint64_t t = 10 * MS; t <= 1 * S; t += 10 * MS)
                mttd_rows_feed(&r, t, (int64_t)(t / MS));
        mttd_rows_finish(&r, 1 * S, 1000);
        assert_well_formed(&rec);
        assert_int_equal(rec.n, 11);
        for (size_t i = 0; i < rec.n; i++) {
                assert_int_equal(rec.rows[i].t_us, i * 100 * MS);
                assert_int_equal(rec.rows[i].kb, (int64_t)(i * 100));
        }
        recorder_free(&rec);
}

/* Noise with repeats, as the kernel's batched counters give: every property at once. */
static void test_noisy_series_properties(void **state)
{
        enum { N = 20000 };
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_point *sched = calloc(N + 2, sizeof(*sched));
        assert_non_null(sched);
        uint32_t x = 2463534242u;
        int64_t v = 100000, max = v;
        size_t n_sched = 0;
        uint64_t t = 0;
        mttd_rows_start(&r, &s, v, record, &rec);
        sched[n_sched++] = (mttd_point){0, v};
        for (int i = 0; i < N; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                t += 200 + x % 900;
                if (x % 4 == 0)
                        v += (int64_t)((x >> 8) % 101) - 50;
                if (v > max)
                        max = v;
                if (t >= mttd_rows_next_due(&r))
                        sched[n_sched++] = (mttd_point){t, v};
                mttd_rows_feed(&r, t, v);
        }
        mttd_rows_finish(&r, t + 1, v);
        sched[n_sched++] = (mttd_point){t + 1, v};

        assert_well_formed(&rec);
        assert_int_equal(rec.rows[rec.n - 1].t_us, t + 1);
        assert_int_equal(rec.rows[rec.n - 1].kb, v);
        for (size_t i = 0; i < n_sched; i++)
                assert_on_curve(&rec, sched[i].t_us, sched[i].kb);
        /* Peaks kept: the report's maximum is the series' maximum. */
        int64_t rmax = rec.rows[0].kb;
        for (size_t i = 1; i < rec.n; i++)
                if (rec.rows[i].kb > rmax)
                        rmax = rec.rows[i].kb;
        assert_int_equal(rmax, max);
        /* At most twice the scheduled rows. */
        assert_true(rec.n <= 2 * n_sched);
        free(sched);
        recorder_free(&rec);
}

static void test_finish_writes_last_row(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        recorder rec = {0};
        mttd_rows r;
        mttd_rows_start(&r, &s, 100, record, &rec);
        mttd_rows_feed(&r, 1 * MS, 200);
        mttd_rows_finish(&r, 1500, 300);
        assert_rows(&rec, (mttd_point[]){{0, 100}, {1 * MS, 200}, {1500, 300}}, 3);
        recorder_free(&rec);

        /* After a flat run: the run's end, then the last row. */
        mttd_rows_start(&r, &s, 100, record, &rec);
        for (uint64_t t = 1 * MS; t <= 3 * MS; t += 1 * MS)
                mttd_rows_feed(&r, t, 100);
        mttd_rows_finish(&r, 3500, 200);
        assert_rows(&rec, (mttd_point[]){{0, 100}, {3 * MS, 100}, {3500, 200}}, 3);
        recorder_free(&rec);
}

static void test_finish_same_microsecond(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        recorder rec = {0};
        mttd_rows r;

        /* The last row was written by a feed. */
        mttd_rows_start(&r, &s, 100, record, &rec);
        mttd_rows_feed(&r, 1 * MS, 200);
        mttd_rows_finish(&r, 1 * MS, 200);
        assert_rows(&rec, (mttd_point[]){{0, 100}, {1 * MS, 200}}, 2);
        recorder_free(&rec);

        /* The last row was held back as the end of a flat run. */
        mttd_rows_start(&r, &s, 100, record, &rec);
        mttd_rows_feed(&r, 1 * MS, 100);
        mttd_rows_feed(&r, 2 * MS, 100);
        mttd_rows_finish(&r, 2 * MS, 100);
        assert_rows(&rec, (mttd_point[]){{0, 100}, {2 * MS, 100}}, 2);
        recorder_free(&rec);

        /* Finished at the opening microsecond. */
        mttd_rows_start(&r, &s, 100, record, &rec);
        mttd_rows_finish(&r, 0, 100);
        assert_rows(&rec, (mttd_point[]){{0, 100}}, 1);
        recorder_free(&rec);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_first_row_at_zero),
            cmocka_unit_test(test_flat_series_first_and_last_only),
            cmocka_unit_test(test_flat_runs_keep_their_ends),
            cmocka_unit_test(test_piecewise_interpolation_exact),
            cmocka_unit_test(test_spike_gets_its_own_row),
            cmocka_unit_test(test_step_down_adds_no_row),
            cmocka_unit_test(test_schedule_runs_from_written_sample),
            cmocka_unit_test(test_spike_before_finish),
            cmocka_unit_test(test_ramp_adds_no_peaks),
            cmocka_unit_test(test_noisy_series_properties),
            cmocka_unit_test(test_finish_writes_last_row),
            cmocka_unit_test(test_finish_same_microsecond),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

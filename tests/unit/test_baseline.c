/* Unit tests for daemon/baseline.h: the ring of recent samples and the mean over a window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "baseline.h"

#define MS 1000u
#define S  1000000u

static void test_empty(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 100 * MS);
        double mean = 42;
        assert_false(mttd_baseline_mean(&b, 10 * S, 2 * S, &mean));
        assert_true(mean == 42); /* untouched */
}

static void test_mean_over_window_only(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        /* Old samples, outside a 2 s window ending at 10 s. */
        mttd_baseline_add(&b, 1 * S, 1000000);
        mttd_baseline_add(&b, 7 * S, 1000000);
        mttd_baseline_add(&b, 8 * S - 1, 1000000);
        /* Inside [8 s, 10 s]. */
        mttd_baseline_add(&b, 8 * S, 100);
        mttd_baseline_add(&b, 9 * S, 200);
        mttd_baseline_add(&b, 10 * S, 600);
        double mean = 0;
        assert_true(mttd_baseline_mean(&b, 10 * S, 2 * S, &mean));
        assert_true(mean == 300.0);
        /* A window that holds only the newest sample. */
        assert_true(mttd_baseline_mean(&b, 10 * S, 0, &mean));
        assert_true(mean == 600.0);
        /* Everything is older than the window. */
        assert_false(mttd_baseline_mean(&b, 20 * S, 2 * S, &mean));
        /* A wide window takes every sample. */
        assert_true(mttd_baseline_mean(&b, 10 * S, 100 * S, &mean));
        assert_true(mean == (3 * 1000000.0 + 900) / 6);
}

static void test_negative_values(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        mttd_baseline_add(&b, 1 * S, -300);
        mttd_baseline_add(&b, 2 * S, 100);
        double mean = 0;
        assert_true(mttd_baseline_mean(&b, 2 * S, 2 * S, &mean));
        assert_true(mean == -100.0);
}

static void test_spacing_skips_close_samples(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 100 * MS);
        mttd_baseline_add(&b, 1 * S, 10);
        mttd_baseline_add(&b, 1 * S + 50 * MS, 1000);  /* too close: skipped */
        mttd_baseline_add(&b, 1 * S + 99 * MS, 1000);  /* still too close */
        mttd_baseline_add(&b, 1 * S + 100 * MS, 20);   /* exactly the spacing: kept */
        mttd_baseline_add(&b, 1 * S + 150 * MS, 1000); /* too close to the kept one */
        assert_int_equal(b.count, 2);
        double mean = 0;
        assert_true(mttd_baseline_mean(&b, 2 * S, 2 * S, &mean));
        assert_true(mean == 15.0);
}

static void test_ring_wraps(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        /* 300 samples, one per 10 ms: the ring keeps the last 256 (t = 440 ms .. 2990 ms). */
        for (uint64_t i = 0; i < 300; i++)
                mttd_baseline_add(&b, i * 10 * MS, (int64_t)i);
        assert_int_equal(b.count, MTTD_BASELINE_RING);
        double mean = 0;
        /* A window wider than the ring: the 256 newest, values 44..299. */
        assert_true(mttd_baseline_mean(&b, 2990 * MS, 100 * S, &mean));
        assert_true(mean == (44.0 + 299.0) / 2);
        /* The last 100 ms: t = 2890 .. 2990 ms, values 289..299. */
        assert_true(mttd_baseline_mean(&b, 2990 * MS, 100 * MS, &mean));
        assert_true(mean == 294.0);
        /* Wrapping many times over keeps working. */
        for (uint64_t i = 300; i < 2000; i++)
                mttd_baseline_add(&b, i * 10 * MS, 7);
        assert_true(mttd_baseline_mean(&b, 19990 * MS, 100 * S, &mean));
        assert_true(mean == 7.0);
        assert_int_equal(b.count, MTTD_BASELINE_RING);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty),
            cmocka_unit_test(test_mean_over_window_only),
            cmocka_unit_test(test_negative_values),
            cmocka_unit_test(test_spacing_skips_close_samples),
            cmocka_unit_test(test_ring_wraps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

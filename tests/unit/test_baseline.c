/* Unit tests for daemon/baseline.h: the ring of recent samples and the level at Open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "baseline.h"

#define MS   1000u
#define S    1000000u
#define MIB  1024
#define BAND MIB /* mttd's default noise band */

static void test_empty_ring_is_the_fresh_sample(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 10 * MS);
        assert_true(mttd_baseline_at(&b, 10 * S, 1000000, 2 * S, BAND) == 1000000.0);
}

/* The loop: run A held +600 MiB until just before B opened; B's level is 1000 MiB,
 * not the mean of the 2 s before it (mostly A). */
static void test_a_run_that_just_ended_never_leaks_in(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 10 * MS);
        uint64_t t = 0;
        for (; t < 500 * MS; t += 10 * MS)
                mttd_baseline_add(&b, t, 1000 * MIB);
        for (; t < 2000 * MS; t += 10 * MS)
                mttd_baseline_add(&b, t, 1600 * MIB);
        assert_true(mttd_baseline_at(&b, t, 1000 * MIB, 2 * S, BAND) == 1000.0 * MIB);
        /* The same level a few samples long: their mean with the fresh one. */
        for (int i = 0; i < 3; i++, t += 10 * MS)
                mttd_baseline_add(&b, t, 1000 * MIB + 100 * (i + 1));
        assert_true(mttd_baseline_at(&b, t, 1000 * MIB, 2 * S, BAND) == (4000.0 * MIB + 600) / 4);
}

/* A burst just before Open is another level: the samples before it do not count either. */
static void test_a_burst_just_before_open_stops_the_mean(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        mttd_baseline_add(&b, 1000 * MS, 500);
        mttd_baseline_add(&b, 1010 * MS, 500);
        mttd_baseline_add(&b, 1020 * MS, 90000); /* 50 ms of something big */
        mttd_baseline_add(&b, 1030 * MS, 700);
        mttd_baseline_add(&b, 1040 * MS, 900);
        assert_true(mttd_baseline_at(&b, 1050 * MS, 800, 2 * S, BAND) == 800.0);
}

/* Within the band is noise, however it moves; outside it is another level, both ways. */
static void test_band(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        mttd_baseline_add(&b, 1 * S, 10000 - BAND - 1); /* just outside: stops here */
        mttd_baseline_add(&b, 2 * S, 10000 - BAND);
        mttd_baseline_add(&b, 3 * S, 10000 + BAND);
        assert_true(mttd_baseline_at(&b, 3 * S, 10000, 10 * S, BAND) == 10000.0);
        assert_true(mttd_baseline_at(&b, 3 * S, 10000, 10 * S, BAND + 1) ==
                    (4 * 10000.0 - BAND - 1) / 4);
        /* A band of 0 takes equal samples only. */
        assert_true(mttd_baseline_at(&b, 3 * S, 10000 + BAND, 10 * S, 0) == 10000.0 + BAND);
        mttd_baseline_add(&b, 4 * S, 10000 + BAND + BAND + 1); /* newest, above the band */
        assert_true(mttd_baseline_at(&b, 4 * S, 10000, 10 * S, BAND) == 10000.0);
}

static void test_window(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        mttd_baseline_add(&b, 7 * S, 100);     /* older than the 2 s window ending at 10 s */
        mttd_baseline_add(&b, 8 * S - 1, 100); /* just older */
        mttd_baseline_add(&b, 8 * S, 200);     /* the window's oldest */
        mttd_baseline_add(&b, 9 * S, 300);
        assert_true(mttd_baseline_at(&b, 10 * S, 400, 2 * S, BAND) == 300.0);
        /* Everything older than the window: the fresh sample alone. */
        assert_true(mttd_baseline_at(&b, 20 * S, 400, 2 * S, BAND) == 400.0);
}

static void test_negative_values(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        mttd_baseline_add(&b, 1 * S, -300);
        mttd_baseline_add(&b, 2 * S, 100);
        assert_true(mttd_baseline_at(&b, 2 * S, -100, 2 * S, BAND) == -100.0);
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
        assert_true(mttd_baseline_at(&b, 2 * S, 30, 2 * S, BAND) == 20.0);
}

static void test_ring_wraps(void **state)
{
        mttd_baseline b;
        mttd_baseline_init(&b, 0);
        /* 300 samples, one per 10 ms: the ring keeps the last 256 (t = 440 ms .. 2990 ms). */
        for (uint64_t i = 0; i < 300; i++)
                mttd_baseline_add(&b, i * 10 * MS, (int64_t)i);
        assert_int_equal(b.count, MTTD_BASELINE_RING);
        /* A window and a band wider than the ring: the 256 newest (44..299) and the fresh. */
        assert_true(mttd_baseline_at(&b, 2990 * MS, 300, 100 * S, 1000) ==
                    (256 * (44.0 + 299.0) / 2 + 300) / 257);
        /* Wrapping many times over keeps working. */
        for (uint64_t i = 300; i < 2000; i++)
                mttd_baseline_add(&b, i * 10 * MS, 7);
        assert_true(mttd_baseline_at(&b, 19990 * MS, 7, 100 * S, 0) == 7.0);
        assert_int_equal(b.count, MTTD_BASELINE_RING);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty_ring_is_the_fresh_sample),
            cmocka_unit_test(test_a_run_that_just_ended_never_leaks_in),
            cmocka_unit_test(test_a_burst_just_before_open_stops_the_mean),
            cmocka_unit_test(test_band),
            cmocka_unit_test(test_window),
            cmocka_unit_test(test_negative_values),
            cmocka_unit_test(test_spacing_skips_close_samples),
            cmocka_unit_test(test_ring_wraps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

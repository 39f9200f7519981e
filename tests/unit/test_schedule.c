/* Unit tests for daemon/schedule.h: the adaptive log schedule (elapsed/20 clamped to [min,max]). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "schedule.h"

#define MS 1000u
#define S  1000000u

static void test_interval_is_elapsed_over_20(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        assert_int_equal(MTTD_SCHEDULE_DIVISOR, 20);
        assert_int_equal(mttd_schedule_interval(&s, 1 * S), 50 * MS);
        assert_int_equal(mttd_schedule_interval(&s, 10 * S), 500 * MS);
        assert_int_equal(mttd_schedule_interval(&s, 20 * MS), 1 * MS);
        assert_int_equal(mttd_schedule_interval(&s, 12345678), 12345678 / 20);
        assert_int_equal(mttd_schedule_next(&s, 1 * S), 1 * S + 50 * MS);
}

static void test_bounds(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        /* Below 20 ms elapsed the minimum holds. */
        assert_int_equal(mttd_schedule_interval(&s, 0), 1 * MS);
        assert_int_equal(mttd_schedule_interval(&s, 19999), 1 * MS);
        assert_int_equal(mttd_schedule_next(&s, 0), 1 * MS);
        /* Above 20 min the maximum holds, up to the largest elapsed time. */
        assert_int_equal(mttd_schedule_interval(&s, 1200 * S), 60 * S);
        assert_int_equal(mttd_schedule_interval(&s, 1200 * (uint64_t)S + 20), 60 * S);
        assert_int_equal(mttd_schedule_interval(&s, 3ull * 86400 * S), 60 * S);
        assert_int_equal(mttd_schedule_interval(&s, UINT64_MAX / 2), 60 * S);

        /* A configured 100 us minimum. */
        const mttd_schedule fine = {.min_us = 100, .max_us = 60 * S};
        assert_int_equal(mttd_schedule_interval(&fine, 0), 100);
        assert_int_equal(mttd_schedule_interval(&fine, 4 * MS), 200);

        /* min == max: a fixed interval. */
        const mttd_schedule fixed = {.min_us = 1 * S, .max_us = 1 * S};
        assert_int_equal(mttd_schedule_interval(&fixed, 0), 1 * S);
        assert_int_equal(mttd_schedule_interval(&fixed, 100 * S), 1 * S);
        assert_int_equal(mttd_schedule_next(&fixed, 7 * S), 8 * S);
}

static void test_monotonic(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        uint64_t prev_interval = 0, prev_next = 0;
        for (uint64_t t = 0; t < 3000 * (uint64_t)S; t += t / 97 + 13) {
                uint64_t i = mttd_schedule_interval(&s, t);
                uint64_t n = mttd_schedule_next(&s, t);
                assert_true(i >= prev_interval);
                assert_true(i >= s.min_us && i <= s.max_us);
                assert_true(n > t);
                assert_true(n >= prev_next);
                prev_interval = i;
                prev_next = n;
        }
        assert_int_equal(prev_interval, 60 * S);
}

/* Rows scheduled from 'from' until 'to' by repeated next(). */
static unsigned rows_between(const mttd_schedule *s, uint64_t from, uint64_t to)
{
        unsigned n = 0;
        for (uint64_t t = from; t < to; t = mttd_schedule_next(s, t))
                n++;
        return n;
}

static void test_rows_per_decade(void **state)
{
        const mttd_schedule s = {.min_us = 1 * MS, .max_us = 60 * S};
        /* 1 s to 10 s: log(10)/log(1.05) ~ 47 rows. */
        unsigned n = rows_between(&s, 1 * S, 10 * S);
        assert_in_range(n, 40, 50);
        /* Same density one decade later (still below the maximum). */
        assert_in_range(rows_between(&s, 10 * S, 100 * S), 40, 50);
        /* From the start, the 1 ms floor gives 20 rows in the first 20 ms. */
        assert_int_equal(rows_between(&s, 0, 20 * MS), 20);
        /* A day at the 60 s cap: exactly 1440 rows. */
        unsigned day =
            rows_between(&s, 1200 * (uint64_t)S, 1200 * (uint64_t)S + 86400 * (uint64_t)S);
        assert_int_equal(day, 1440);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_interval_is_elapsed_over_20),
            cmocka_unit_test(test_bounds),
            cmocka_unit_test(test_monotonic),
            cmocka_unit_test(test_rows_per_decade),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

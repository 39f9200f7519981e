/* Unit tests for daemon/csv.h: report row formatting ("S.UUUUUU,%.6f\n") and the endings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"

/* Formats a row and checks the returned length against the text. */
static const char *row(char *buf, uint64_t t_us, double ram)
{
        memset(buf, 'x', MTTD_CSV_ROW_MAX);
        size_t n = mttd_csv_row(buf, t_us, ram);
        assert_true(n < MTTD_CSV_ROW_MAX);
        assert_int_equal(strlen(buf), n);
        return buf;
}

static void test_constants(void **state)
{
        assert_string_equal(MTTD_CSV_HEADER, "delta,ram\n");
        assert_string_equal(MTTD_CSV_END_COMPLETED, "0,0\n");
        assert_string_equal(MTTD_CSV_END_FAILED, "0,0\n-1,-1\n");
}

static void test_delta_is_exact_microseconds(void **state)
{
        char buf[MTTD_CSV_ROW_MAX];
        assert_string_equal(row(buf, 0, 0.000412), "0.000000,0.000412\n");
        assert_string_equal(row(buf, 1003, 0.000415), "0.001003,0.000415\n");
        assert_string_equal(row(buf, 12503121, 1.862113), "12.503121,1.862113\n");
        assert_string_equal(row(buf, 1, 0), "0.000001,0.000000\n");
        assert_string_equal(row(buf, 999999, 2), "0.999999,2.000000\n");
        assert_string_equal(row(buf, 1000000, 2), "1.000000,2.000000\n");
        /* Three days. */
        assert_string_equal(row(buf, 259200000001ull, 12.5), "259200.000001,12.500000\n");
        /* The largest delta still fits with the newline. */
        assert_string_equal(row(buf, UINT64_MAX, 0), "18446744073709.551615,0.000000\n");
}

static void test_negative_ram_keeps_sign(void **state)
{
        char buf[MTTD_CSV_ROW_MAX];
        assert_string_equal(row(buf, 2000000, -0.5), "2.000000,-0.500000\n");
        assert_string_equal(row(buf, 0, -1.0), "0.000000,-1.000000\n");
        assert_string_equal(row(buf, 5, -0.0000001), "0.000005,-0.000000\n");
}

static void test_rounding(void **state)
{
        char buf[MTTD_CSV_ROW_MAX];
        assert_string_equal(row(buf, 1, 0.0000004), "0.000001,0.000000\n");
        assert_string_equal(row(buf, 1, 0.0000006), "0.000001,0.000001\n");
        assert_string_equal(row(buf, 1, 123456.25), "0.000001,123456.250000\n");
}

static void test_never_a_sentinel(void **state)
{
        static const double rams[] = {0.0, -0.0, 1.0, -1.0, 0.0000001, -0.0000001};
        static const uint64_t ts[] = {0, 1, 1000000, 12503121};
        char buf[MTTD_CSV_ROW_MAX];
        for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
                for (size_t j = 0; j < sizeof(rams) / sizeof(rams[0]); j++) {
                        row(buf, ts[i], rams[j]);
                        assert_string_not_equal(buf, "0,0\n");
                        assert_string_not_equal(buf, "-1,-1\n");
                        /* Each row is one whole line with both fields carrying a point. */
                        char *comma = strchr(buf, ',');
                        assert_non_null(comma);
                        assert_non_null(memchr(buf, '.', (size_t)(comma - buf)));
                        assert_non_null(strchr(comma, '.'));
                        assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_constants),
            cmocka_unit_test(test_delta_is_exact_microseconds),
            cmocka_unit_test(test_negative_ram_keeps_sign),
            cmocka_unit_test(test_rounding),
            cmocka_unit_test(test_never_a_sentinel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

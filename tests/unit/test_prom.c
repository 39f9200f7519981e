/* The Prometheus text format: families with HELP and TYPE, label values from users escaped
 * (backslash, quote, newline; bytes that are not UTF-8 as U+FFFD), values as the format
 * spells them, no timestamps. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

static void test_family_and_samples(void **state)
{
        mttd_prom p;
        mttd_prom_init(&p);
        mttd_prom_family(&p, "mtt_sessions_running", MTTD_PROM_GAUGE, "Sessions running now.");
        mttd_prom_sample(&p, "mtt_sessions_running", NULL, 0, 3);
        mttd_prom_family(&p, "mtt_rows_written_total", MTTD_PROM_COUNTER, "Rows written.");
        const mttd_prom_label l[] = {{"id", "7"}, {"scope", "system"}};
        mttd_prom_sample(&p, "mtt_rows_written_total", l, 2, 12345);
        assert_false(p.failed);
        assert_string_equal(p.text, "# HELP mtt_sessions_running Sessions running now.\n"
                                    "# TYPE mtt_sessions_running gauge\n"
                                    "mtt_sessions_running 3\n"
                                    "# HELP mtt_rows_written_total Rows written.\n"
                                    "# TYPE mtt_rows_written_total counter\n"
                                    "mtt_rows_written_total{id=\"7\",scope=\"system\"} 12345\n");
        mttd_prom_free(&p);
}

/* Labels come from users: whatever they hold, the line stays one line of the format. */
static void test_hostile_labels(void **state)
{
        mttd_prom p;
        mttd_prom_init(&p);
        const mttd_prom_label l[] = {
            {"label", "a\"b\\c\nd}e,f=g"}, {"job", "\xff\xc0\x80ok\xe2\x82"}, {"user", NULL}};
        mttd_prom_sample(&p, "mtt_session_info", l, 3, 1);
        assert_string_equal(p.text, "mtt_session_info{label=\"a\\\"b\\\\c\\nd}e,f=g\","
                                    "job=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok"
                                    "\xef\xbf\xbd\xef\xbf\xbd\",user=\"\"} 1\n");
        assert_ptr_equal(strchr(p.text, '\n'), p.text + p.len - 1); /* one line */
        mttd_prom_free(&p);
        /* HELP text: backslash and newline escaped, quotes as they are. */
        mttd_prom_init(&p);
        mttd_prom_family(&p, "x", MTTD_PROM_GAUGE, "say \"hi\"\\\nthere");
        assert_string_equal(p.text, "# HELP x say \"hi\"\\\\\\nthere\n# TYPE x gauge\n");
        mttd_prom_free(&p);
}

static void test_values(void **state)
{
        const struct {
                double v;
                const char *text;
        } cases[] = {
            {0, "0"},
            {-2, "-2"},
            {1073741824, "1073741824"},
            {1e15, "1000000000000000"},
            {0.5, "0.5"},
            {1.25e-7, "1.25e-07"},
            {0.1, "0.1"},
            {1.0 / 3, "0.3333333333333333"},
            {9007199254740992.0, "9007199254740992"},
            {NAN, "NaN"},
            {INFINITY, "+Inf"},
            {-INFINITY, "-Inf"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                mttd_prom p;
                mttd_prom_init(&p);
                mttd_prom_sample(&p, "v", NULL, 0, cases[i].v);
                char want[64];
                snprintf(want, sizeof(want), "v %s\n", cases[i].text);
                assert_string_equal(p.text, want);
                mttd_prom_free(&p);
        }
}

static void test_names(void **state)
{
        assert_true(mttd_prom_name_ok("mtt_session_peak_bytes"));
        assert_true(mttd_prom_name_ok("job:mtt_peak_bytes:max"));
        assert_true(mttd_prom_name_ok("_x9"));
        assert_false(mttd_prom_name_ok(""));
        assert_false(mttd_prom_name_ok("9x"));
        assert_false(mttd_prom_name_ok("a-b"));
        assert_false(mttd_prom_name_ok("a b"));
        assert_false(mttd_prom_name_ok(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_family_and_samples),
            cmocka_unit_test(test_hostile_labels),
            cmocka_unit_test(test_values),
            cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for proto/text.c: client text made fit for terminals and logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "proto/interface.h"
#include "proto/text.h"

static void check_printable(const char *in, const char *want)
{
        char buf[128];
        strcpy(buf, in);
        mtt_proto_printable(buf);
        assert_string_equal(buf, want);
}

static void test_controls_and_bidi(void **state)
{
        check_printable("plain label", "plain label");
        check_printable("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"); /* é € */
        check_printable("a\nb\tc\x7f", "a?b?c?");
        check_printable("c1 \xc2\x85 end", "c1 ?? end");
        check_printable("bad \xff utf", "bad ? utf");
        /* RIGHT-TO-LEFT OVERRIDE, its isolate sibling, LRM/RLM and the Arabic letter mark. */
        check_printable("evil\xe2\x80\xaetxt.exe", "evil???txt.exe");
        check_printable("\xe2\x81\xa7x\xe2\x81\xa9", "???x???");
        check_printable("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "????????");
        /* Neighbours of those ranges stay. */
        check_printable("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5",
                        "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5");
}

/* A job is refused whole, never cleaned: other tools match on it. */
static void test_job_unfit(void **state)
{
        assert_null(mtt_proto_job_unfit(""));
        assert_null(mtt_proto_job_unfit("4242_7"));
        assert_null(mtt_proto_job_unfit("1234.pbs-server.example.org"));
        assert_null(mtt_proto_job_unfit("77[3]"));
        assert_null(mtt_proto_job_unfit("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")); /* é € 😀 */
        char job[MTT_PROTO_JOB_MAX + 2];
        memset(job, 'j', MTT_PROTO_JOB_MAX);
        job[MTT_PROTO_JOB_MAX] = '\0';
        assert_null(mtt_proto_job_unfit(job));
        job[MTT_PROTO_JOB_MAX] = 'j';
        job[MTT_PROTO_JOB_MAX + 1] = '\0';
        assert_string_equal(mtt_proto_job_unfit(job), "longer than 128 bytes");
        static const char *const controls[] = {"a\nb", "tab\t", "\x01", "del\x7f", "\x1f"};
        for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
                assert_string_equal(mtt_proto_job_unfit(controls[i]), "has a control character");
        /* Bytes that are not UTF-8: a stray continuation, a cut sequence, overlong forms, a
         * surrogate, past U+10FFFF. */
        static const char *const bad[] = {"\x80",         "ab\xc3",           "\xe2\x82",
                                          "\xc0\x80",     "\xe0\x80\xaf",     "\xf0\x80\x80\xaf",
                                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_string_equal(mtt_proto_job_unfit(bad[i]), "not UTF-8");
}

/* UTF-8 as jansson takes it: the same bytes refused as a job's, controls taken. */
static void test_utf8_valid(void **state)
{
        assert_true(mtt_proto_utf8_valid(""));
        assert_true(mtt_proto_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\t\x7f"));
        static const char *const bad[] = {"\x80",         "ab\xc3",           "\xe2\x82",
                                          "\xc0\x80",     "\xe0\x80\xaf",     "\xf0\x80\x80\xaf",
                                          "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_false(mtt_proto_utf8_valid(bad[i]));
                json_t *j = json_string(bad[i]); /* jansson refuses them too */
                assert_null(j);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_controls_and_bidi),
            cmocka_unit_test(test_job_unfit),
            cmocka_unit_test(test_utf8_valid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

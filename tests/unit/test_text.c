/* Tests for proto/text.c (client text made fit for terminals and logs) and the cgroup line
 * parser of proto/ending.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ending.h"
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

static void test_cgroup_lines(void **state)
{
        char out[4096];
        bool v1;
        assert_true(mtt_proto_cgroup_parse("0::/user.slice/a.scope\n", out, sizeof(out), &v1));
        assert_string_equal(out, "/user.slice/a.scope");
        assert_false(v1);
        /* v1's memory controller wins where it is mounted; a path may hold ':'. */
        assert_true(
            mtt_proto_cgroup_parse("12:cpu:/x\n4:memory:/a:b\n0::/u\n", out, sizeof(out), &v1));
        assert_string_equal(out, "/a:b");
        assert_true(v1);
        assert_false(mtt_proto_cgroup_parse("1:name=systemd:/x\n", out, sizeof(out), &v1));
        /* A line longer than any fixed buffer is one line: its tail (here cut at 1023 bytes,
         * where a 1024-byte fgets cut it) is no line of its own. */
        char *text = malloc(3000);
        strcpy(text, "0::/");
        memset(text + 4, 'a', 1019);
        strcpy(text + 1023, "4:memory:/evil\n");
        assert_true(mtt_proto_cgroup_parse(text, out, sizeof(out), &v1));
        assert_false(v1);
        assert_int_equal(strlen(out), 1 + 1019 + strlen("4:memory:/evil"));
        assert_false(mtt_proto_cgroup_parse(text, out, 100, &v1)); /* does not fit */
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_controls_and_bidi),
            cmocka_unit_test(test_cgroup_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for proto/text.c: client text made fit for terminals and logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_controls_and_bidi),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

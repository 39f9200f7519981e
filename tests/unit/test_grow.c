/* The one array growth: doubling from a first size, never shrinking, unchanged on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/grow.h"

static void test_grows_by_doubling(void **state)
{
        int *v = NULL;
        size_t cap = 0;
        assert_int_equal(mtt_grow(&v, &cap, 1, sizeof(*v), 8), 0);
        assert_int_equal(cap, 8);
        assert_non_null(v);
        for (int i = 0; i < 8; i++)
                v[i] = i;
        assert_int_equal(mtt_grow(&v, &cap, 8, sizeof(*v), 8), 0); /* fits: no change */
        assert_int_equal(cap, 8);
        assert_int_equal(mtt_grow(&v, &cap, 9, sizeof(*v), 8), 0);
        assert_int_equal(cap, 16);
        assert_int_equal(mtt_grow(&v, &cap, 100, sizeof(*v), 8), 0);
        assert_int_equal(cap, 128);
        for (int i = 0; i < 8; i++) /* what it held is kept */
                assert_int_equal(v[i], i);
        free(v);
}

static void test_too_large_changes_nothing(void **state)
{
        char *v = NULL;
        size_t cap = 0;
        assert_int_equal(mtt_grow(&v, &cap, 10, 1, 16), 0);
        char *before = v;
        assert_int_equal(mtt_grow(&v, &cap, SIZE_MAX / 2 + 2, 1, 16), -ENOMEM);
        assert_int_equal(cap, 16);
        assert_ptr_equal(v, before);
        assert_int_equal(mtt_grow(&v, &cap, SIZE_MAX / 8, 16, 16), -ENOMEM);
        assert_int_equal(cap, 16);
        free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_grows_by_doubling),
            cmocka_unit_test(test_too_large_changes_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

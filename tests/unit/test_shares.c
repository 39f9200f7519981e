/* Unit tests for daemon/shares.c: per-user counts of writes in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shares.h"

static void test_counts_per_user(void **state)
{
        mttd_shares sh = {0};
        assert_int_equal(mttd_shares_in_flight(&sh, 1000), 0);
        for (int i = 0; i < 20; i++)
                assert_int_equal(mttd_shares_add(&sh, 1000), 0);
        assert_int_equal(mttd_shares_add(&sh, 0), 0);
        assert_int_equal(mttd_shares_in_flight(&sh, 1000), 20);
        assert_int_equal(mttd_shares_in_flight(&sh, 0), 1);
        assert_int_equal(mttd_shares_in_flight(&sh, 1001), 0);
        /* Back to nothing: the user leaves the array; the others stay as they were. */
        for (int i = 0; i < 20; i++)
                mttd_shares_remove(&sh, 1000);
        assert_int_equal(mttd_shares_in_flight(&sh, 1000), 0);
        assert_int_equal(sh.n, 1);
        assert_int_equal(mttd_shares_in_flight(&sh, 0), 1);
        /* A stray remove changes nothing. */
        mttd_shares_remove(&sh, 1000);
        assert_int_equal(sh.n, 1);
        mttd_shares_free(&sh);
}

static void test_many_users(void **state)
{
        mttd_shares sh = {0};
        /* Through several reallocations and removals: each user counted apart. */
        for (uid_t u = 0; u < 100; u++)
                for (unsigned i = 0; i <= u % 5; i++)
                        assert_int_equal(mttd_shares_add(&sh, u), 0);
        assert_int_equal(sh.n, 100);
        for (uid_t u = 0; u < 100; u += 2)
                for (unsigned i = 0; i <= u % 5; i++)
                        mttd_shares_remove(&sh, u);
        assert_int_equal(sh.n, 50);
        for (uid_t u = 0; u < 100; u++)
                assert_int_equal(mttd_shares_in_flight(&sh, u), u % 2 ? u % 5 + 1 : 0);
        mttd_shares_free(&sh);
        assert_int_equal(sh.n, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_counts_per_user),
            cmocka_unit_test(test_many_users),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

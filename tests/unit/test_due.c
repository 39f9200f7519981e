/* Unit tests for daemon/due.c: the heap of running sessions by due time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "due.h"

static void test_order(void **state)
{
        mttd_due d;
        mttd_due_init(&d);
        assert_null(mttd_due_top(&d));
        assert_null(mttd_due_pop(&d));
        int items[500];
        /* A scrambled order in, sorted order out, through several reallocations. */
        for (unsigned i = 0; i < 500; i++) {
                unsigned k = (i * 337) % 500;
                items[k] = (int)k;
                assert_int_equal(mttd_due_push(&d, 1000 + k, &items[k]), 0);
        }
        assert_int_equal(d.n, 500);
        for (unsigned i = 0; i < 500; i++) {
                assert_int_equal(mttd_due_top(&d)->at_us, 1000 + i);
                int *p = mttd_due_pop(&d);
                assert_int_equal(*p, (int)i);
        }
        assert_null(mttd_due_pop(&d));
        mttd_due_free(&d);
}

static void test_ties_and_clear(void **state)
{
        mttd_due d;
        mttd_due_init(&d);
        int a = 1, b = 2, c = 3;
        mttd_due_push(&d, 50, &a);
        mttd_due_push(&d, 50, &b);
        mttd_due_push(&d, 10, &c);
        assert_ptr_equal(mttd_due_pop(&d), &c);
        void *x = mttd_due_pop(&d), *y = mttd_due_pop(&d);
        assert_true((x == &a && y == &b) || (x == &b && y == &a));
        mttd_due_push(&d, 5, &a);
        mttd_due_clear(&d);
        assert_null(mttd_due_top(&d));
        mttd_due_push(&d, 7, &b);
        assert_ptr_equal(mttd_due_pop(&d), &b);
        mttd_due_free(&d);
        mttd_due_free(&d); /* a freed heap is an empty one */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_order),
            cmocka_unit_test(test_ties_and_clear),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests for daemon/proctree.c against this test's own processes: a child and a grandchild
 * that each touch memory are summed with it; a tree whose members leave reads on. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proctree.h"

/* A child that touches mib MiB and tells when it has, then waits to be killed. */
static pid_t spawn_holding(int mib, int ready, bool with_grandchild)
{
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (with_grandchild)
                spawn_holding(mib, ready, false);
        volatile char *p = malloc((size_t)mib << 20); /* volatile: really touched */
        for (size_t off = 0; off < (size_t)mib << 20; off += 4096)
                p[off] = 1;
        if (write(ready, "x", 1) != 1)
                _exit(1);
        pause();
        _exit(0);
}

static void test_tree_is_summed(void **state)
{
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        mttd_proctree t = {0};
        int64_t before;
        unsigned n;
        assert_int_equal(mttd_proctree_kb(&t, getpid(), &before, &n), 0);
        assert_int_equal(n, 1);

        pid_t child = spawn_holding(64, ready[1], true); /* 64 MiB twice */
        char c[2];
        assert_int_equal(read(ready[0], c, 1), 1);
        assert_int_equal(read(ready[0], c + 1, 1), 1);
        int64_t kb;
        assert_int_equal(mttd_proctree_kb(&t, getpid(), &kb, &n), 0);
        assert_int_equal(n, 3);
        assert_true(kb - before > 2 * 60 * 1024);
        assert_true(kb - before < 2 * 80 * 1024);

        /* The child's own tree, then the child gone: its grandchild is no longer ours. */
        int64_t child_kb;
        assert_int_equal(mttd_proctree_kb(&t, child, &child_kb, &n), 0);
        assert_int_equal(n, 2);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        assert_int_equal(mttd_proctree_kb(&t, child, &child_kb, &n), -ESRCH);
        assert_int_equal(mttd_proctree_kb(&t, getpid(), &kb, &n), 0);
        assert_int_equal(n, 1);
        mttd_proctree_free(&t);
        close(ready[0]);
        close(ready[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tree_is_summed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests: a process's ancestry over a fake /proc (each PID/stat a line). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ancestry.h"

static char proc[] = "/tmp/mtt-unit-proc-XXXXXX";

static void process(pid_t pid, const char *comm, pid_t ppid)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/%d", proc, (int)pid);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5 100 10\n",
                (int)pid, comm, (int)ppid, (int)pid, (int)pid);
        assert_int_equal(fclose(f), 0);
}

/* init (1) -> 10 -> 11 -> 12 (a name that looks like more fields), and 13 beside them. */
static int setup(void **state)
{
        if (!mkdtemp(proc))
                return -1;
        process(1, "init", 0);
        process(10, "python3", 1);
        process(11, "sh", 10);
        process(12, "a) S 99 (b", 11);
        process(13, "other", 1);
        /* Parents read at different moments may make a loop (pids reused meanwhile). */
        process(20, "a", 21);
        process(21, "b", 20);
        return 0;
}

static int teardown(void **state)
{
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", proc);
        return system(cmd) == 0 ? 0 : -1;
}

/* Whether pid is root or one of root's descendants: root on pid's line. */
static bool descends(mttd_ancestry *a, pid_t pid, pid_t root)
{
        const pid_t *line;
        size_t n = mttd_ancestry_line(a, pid, &line);
        for (size_t i = 0; i < n; i++)
                if (line[i] == root)
                        return true;
        return false;
}

static void test_parent_of(void **state)
{
        pid_t ppid = -1;
        assert_int_equal(mttd_parent_of(proc, 12, &ppid), 0);
        assert_int_equal(ppid, 11); /* counted from the last ')' */
        assert_int_equal(mttd_parent_of(proc, 1, &ppid), 0);
        assert_int_equal(ppid, 0);
        assert_int_equal(mttd_parent_of(proc, 777, &ppid), -ESRCH);
}

static void test_descends(void **state)
{
        mttd_ancestry a;
        mttd_ancestry_init(&a, proc);
        assert_true(descends(&a, 12, 10));
        assert_true(descends(&a, 11, 10));
        assert_true(descends(&a, 10, 10)); /* the root is its own tree's */
        assert_true(descends(&a, 12, 12));
        assert_false(descends(&a, 13, 10));  /* a sibling's line */
        assert_false(descends(&a, 10, 11));  /* a parent is no descendant */
        assert_false(descends(&a, 777, 10)); /* gone */
        assert_true(descends(&a, 13, 1));
        mttd_ancestry_free(&a);
}

/* Parents are kept for one read: a process that moved (its parent ended) is seen anew once
 * the read is forgotten. */
static void test_forget(void **state)
{
        mttd_ancestry a;
        mttd_ancestry_init(&a, proc);
        assert_false(descends(&a, 13, 10));
        char path[128];
        snprintf(path, sizeof(path), "rm -rf %s/13", proc);
        assert_int_equal(system(path), 0);
        process(13, "other", 11);
        assert_false(descends(&a, 13, 10)); /* the same read: as it was */
        mttd_ancestry_forget(&a);
        assert_true(descends(&a, 13, 10));
        mttd_ancestry_free(&a);
}

/* A line: the process, then its parents up to init, each once, a loop ended. */
static void test_line(void **state)
{
        mttd_ancestry a;
        mttd_ancestry_init(&a, proc);
        const pid_t *line;
        assert_int_equal(mttd_ancestry_line(&a, 12, &line), 4);
        assert_int_equal(line[0], 12);
        assert_int_equal(line[1], 11);
        assert_int_equal(line[2], 10);
        assert_int_equal(line[3], 1);
        assert_int_equal(mttd_ancestry_line(&a, 777, &line), 1); /* gone: itself alone */
        assert_int_equal(line[0], 777);
        assert_int_equal(mttd_ancestry_line(&a, 20, &line), 2);
        assert_int_equal(line[0], 20);
        assert_int_equal(line[1], 21);
        assert_false(descends(&a, 20, 1));
        assert_true(descends(&a, 21, 20));
        /* Many lines in one read, the table grown on the way: the same answers. */
        for (int i = 0; i < 1000; i++)
                assert_true(descends(&a, 12, 10));
        mttd_ancestry_free(&a);
}

/* A table grown past its first size keeps every parent it had. */
static void test_many_parents(void **state)
{
        mttd_ancestry a;
        mttd_ancestry_init(&a, proc);
        for (pid_t pid = 30000; pid < 30200; pid++)
                assert_false(descends(&a, pid, 10)); /* gone, each looked up */
        assert_int_equal(a.n, 200);
        assert_true(descends(&a, 12, 10));
        assert_int_equal(a.n, 204); /* 12, 11, 10, 1 */
        for (pid_t pid = 30000; pid < 30200; pid++)
                assert_false(descends(&a, pid, 10));
        assert_int_equal(a.n, 204); /* none looked up again */
        mttd_ancestry_free(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parent_of),    cmocka_unit_test(test_descends),
            cmocka_unit_test(test_forget),       cmocka_unit_test(test_line),
            cmocka_unit_test(test_many_parents),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* Tests for daemon/proctree.c: forests on a fake /proc (trees inside trees read once, the
 * budget, fast reads, other users' processes), then on this test's own processes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/procfs.h"
#include "proctree.h"

static char proc[64];

static void put(const char *rel, const char *text)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", proc, rel);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* A fake process: pss and rss in kB (rss in 4 kB pages in statm), its children. */
static void fake(int pid, long pss, long rss, const char *children)
{
        char rel[128], text[128];
        snprintf(rel, sizeof(rel), "%s/%d", proc, pid);
        mkdir(rel, 0755);
        snprintf(rel, sizeof(rel), "%s/%d/task", proc, pid);
        mkdir(rel, 0755);
        snprintf(rel, sizeof(rel), "%s/%d/task/%d", proc, pid, pid);
        mkdir(rel, 0755);
        snprintf(rel, sizeof(rel), "%d/task/%d/children", pid, pid);
        put(rel, children);
        snprintf(rel, sizeof(rel), "%d/smaps_rollup", pid);
        snprintf(text, sizeof(text), "00400000-7fff [rollup]\nRss: %ld kB\nPss: %ld kB\n", rss,
                 pss);
        put(rel, text);
        snprintf(rel, sizeof(rel), "%d/statm", pid);
        snprintf(text, sizeof(text), "1000 %ld 10 1 0 100 0\n", rss / 4);
        put(rel, text);
}

static int setup(void **state)
{
        snprintf(proc, sizeof(proc), "/tmp/mtt-proctree-XXXXXX");
        if (!mkdtemp(proc))
                return -1;
        /* 1 -> 2 -> 3 -> 4, and 2 -> 5 */
        fake(1, 100, 200, "2 ");
        fake(2, 10, 20, "3 5 ");
        fake(3, 1, 4, "4 ");
        fake(4, 1000, 1000, "");
        fake(5, 50, 60, "");
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", proc);
        return system(cmd);
}

static void test_trees_inside_trees(void **state)
{
        mttd_forest f;
        mttd_forest_init(&f, 0, proc, 100);
        /* The inner roots first: the outer tree joins them rather than reading them again. */
        mttd_tree_root roots[] = {{.pid = 3, .pidfd = -1},
                                  {.pid = 1, .pidfd = -1},
                                  {.pid = 2, .pidfd = -1},
                                  {.pid = 9, .pidfd = -1}};
        for (int round = 0; round < 4; round++) { /* each round starts with another tree */
                mttd_forest_full(&f, roots, 4);
                assert_int_equal(roots[0].error, 0);
                assert_int_equal(roots[0].kb, 1001);
                assert_int_equal(roots[0].processes, 2);
                assert_int_equal(roots[1].kb, 1161);
                assert_int_equal(roots[1].processes, 5);
                assert_int_equal(roots[2].kb, 1061);
                assert_int_equal(roots[2].processes, 4);
                assert_int_equal(roots[3].error, -ESRCH);
                /* Each of the five processes read once, and the root that is not there. */
                assert_int_equal(f.n, 6);
        }
        mttd_forest_free(&f);
}

static void test_fast_read_moves_pss_by_rss(void **state)
{
        mttd_forest f;
        mttd_forest_init(&f, 0, proc, 100);
        mttd_tree_root root = {.pid = 1, .pidfd = -1};
        mttd_forest_full(&f, &root, 1);
        assert_int_equal(root.kb, 1161);
        /* 4 allocates 4000 kB more (its RSS); 5 leaves; a new child of 1 is not seen yet. */
        put("4/statm", "1000 1250 10 1 0 100 0\n");
        put("5/statm", "");
        fake(6, 7, 8, "");
        put("1/task/1/children", "2 6 ");
        mttd_forest_fast(&f, &root, 1);
        assert_int_equal(root.error, 0);
        assert_int_equal(root.kb, 1161 + 4000 - 50);
        assert_int_equal(root.processes, 4);
        /* The next full read brings Pss and the tree up to date. */
        mttd_forest_full(&f, &root, 1);
        assert_int_equal(root.kb, 1111 + 7);
        assert_int_equal(root.processes, 5);
        mttd_forest_free(&f);
}

static void test_budget_cuts(void **state)
{
        mttd_forest f;
        mttd_forest_init(&f, 0, proc, 3);
        mttd_tree_root roots[] = {{.pid = 1, .pidfd = -1}, {.pid = 5, .pidfd = -1}};
        mttd_forest_full(&f, roots, 2);
        assert_int_equal(f.n, 3);
        /* Whichever tree came first took the budget; the other is cut or not read. */
        assert_true(roots[0].cut || roots[1].error == -EAGAIN || roots[1].cut ||
                    roots[0].error == -EAGAIN);
        mttd_forest_free(&f);
}

/* A children file longer than one read: every pid whole, none cut in two. */
static void test_long_children_list(void **state)
{
        char *list = malloc(1000 * 8 + 1), *p = list;
        for (int i = 0; i < 1000; i++)
                p += sprintf(p, "%d ", 1000000 + i);
        fake(7, 1, 4, list);
        free(list);
        mttd_forest f;
        mttd_forest_init(&f, 0, proc, 5000);
        mttd_tree_root root = {.pid = 7, .pidfd = -1};
        mttd_forest_full(&f, &root, 1);
        /* 7 and its 1000 children (gone: not in the fake), no pid made of a cut one. */
        assert_int_equal(f.n, 1001);
        assert_int_equal(root.processes, 1);
        mttd_forest_free(&f);
}

/* Another user's forest: these files are root's, so their Pss is not read; RSS counts. */
static void test_other_users_processes_give_rss(void **state)
{
        if (getuid() != 0)
                skip();
        mttd_forest f;
        mttd_forest_init(&f, 1000, proc, 100);
        mttd_tree_root root = {.pid = 3, .pidfd = -1};
        mttd_forest_full(&f, &root, 1);
        assert_int_equal(root.kb, 4 + 1000);
        mttd_forest_free(&f);
}

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

static void test_live_tree_is_summed(void **state)
{
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        mttd_forest f;
        mttd_forest_init(&f, getuid(), MTT_PROCFS_ROOT, 4096);
        mttd_tree_root me = {.pid = getpid(), .pidfd = -1};
        mttd_forest_full(&f, &me, 1);
        assert_int_equal(me.error, 0);
        assert_int_equal(me.processes, 1);
        int64_t before = me.kb;

        pid_t child = spawn_holding(64, ready[1], true); /* 64 MiB twice */
        char c[2];
        assert_int_equal(read(ready[0], c, 1), 1);
        assert_int_equal(read(ready[0], c + 1, 1), 1);
        mttd_forest_full(&f, &me, 1);
        assert_int_equal(me.processes, 3);
        assert_true(me.kb - before > 2 * 60 * 1024);
        assert_true(me.kb - before < 2 * 80 * 1024);

        /* The child's own tree, then the child gone: its grandchild is no longer ours. */
        mttd_tree_root both[] = {{.pid = getpid(), .pidfd = -1}, {.pid = child, .pidfd = -1}};
        mttd_forest_full(&f, both, 2);
        assert_int_equal(both[1].processes, 2);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        mttd_forest_full(&f, both, 2);
        assert_int_equal(both[1].error, -ESRCH);
        assert_int_equal(both[0].processes, 1);
        mttd_forest_free(&f);
        close(ready[0]);
        close(ready[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_trees_inside_trees, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fast_read_moves_pss_by_rss, setup, teardown),
            cmocka_unit_test_setup_teardown(test_budget_cuts, setup, teardown),
            cmocka_unit_test_setup_teardown(test_long_children_list, setup, teardown),
            cmocka_unit_test_setup_teardown(test_other_users_processes_give_rss, setup, teardown),
            cmocka_unit_test(test_live_tree_is_summed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

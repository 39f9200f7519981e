/* Integration: what a session measures (scope) and who ran beside it (overlaps). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"

static harness H;

static int start(void **state)
{
        return harness_start(&H, NULL);
}

/* Touches mib MiB (volatile: the pages are really used) and holds them. */
static void *hold(int mib)
{
        volatile char *p = malloc((size_t)mib << 20);
        for (size_t off = 0; off < (size_t)mib << 20; off += 4096)
                p[off] = 1;
        return (void *)p;
}

static double max_value(const char *text)
{
        double max = -1e9;
        const char *line = strchr(text, '\n');
        while (line && line[1]) {
                double t, v;
                if (sscanf(line + 1, "%lf,%lf", &t, &v) == 2 && strchr(line + 1, '.') &&
                    strchr(line + 1, '.') < strchr(line + 1, '\n') && v > max)
                        max = v;
                line = strchr(line + 1, '\n');
        }
        return max;
}

static json_t *status_of(uint64_t id)
{
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)id);
        int fd = harness_connect(&H);
        json_t *r = harness_call(fd, "io.mtt.Tracker.Status", params, NULL, 0);
        close(fd);
        json_t *s = json_incref(json_object_get(json_object_get(r, "parameters"), "session"));
        json_decref(r);
        return s;
}

/* The session's peak (GiB) reaches at least gib within 10 s. */
static bool peak_reaches(uint64_t id, double gib)
{
        for (int i = 0; i < 1000; i++) {
                json_t *st = status_of(id);
                double peak = json_real_value(json_object_get(st, "peak"));
                json_decref(st);
                if (peak >= gib)
                        return true;
                usleep(10000);
        }
        return false;
}

/* A tree that allocates 2 x 50 MiB, one of them leaving once mttd has seen both, while 1 GiB
 * outside it comes and goes: the report sees the tree, not the machine. */
static void test_process_scope(void **state)
{
        int go[2], ready[2], leave[2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(leave), 0);
        pid_t tree = fork();
        if (tree == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                char c;
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                pid_t leaver = fork();
                if (leaver == 0) { /* a descendant that allocates, then leaves when told */
                        hold(50);
                        if (write(ready[1], "l", 1) != 1 || read(leave[0], &c, 1) != 1)
                                _exit(1);
                        _exit(0);
                }
                hold(50);
                if (write(ready[1], "r", 1) != 1)
                        _exit(1);
                waitpid(leaver, NULL, 0);
                pause();
                _exit(0);
        }
        char path[256];
        harness_path(&H, "tree.csv", path, sizeof(path));
        mtt_options o = {.socket_path = H.socket,
                         .label = "tree",
                         .scope = MTT_SCOPE_PROCESS,
                         .pid = tree,
                         .min_interval_us = 1000};
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        uint64_t id = mtt_session_id(s);
        assert_int_equal(write(go[1], "g", 1), 1);
        char c[2];
        assert_int_equal(read(ready[0], c, 1), 1);
        assert_int_equal(read(ready[0], c + 1, 1), 1); /* both hold their 50 MiB */
        void *outside = hold(1024); /* the machine moves by 1 GiB; the tree does not */
        bool both = peak_reaches(id, 0.08);
        free(outside);
        assert_int_equal(write(leave[1], "x", 1), 1);
        usleep(200000);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        kill(tree, SIGKILL);
        waitpid(tree, NULL, 0);

        char *text = harness_read_file(path);
        int rows;
        const char *why = harness_check_report(text, ENDING_COMPLETED, &rows);
        if (why)
                fail_msg("%s in:\n%s", why, text);
        double peak = max_value(text);
        print_message("the tree's peak: %.3f GiB over %d rows\n", peak, rows);
        assert_true(both);
        assert_true(peak > 0.08); /* both descendants' 50 MiB, summed */
        assert_true(peak < 0.3);  /* and never the 1 GiB beside it */
        free(text);
        json_t *st = status_of(id);
        assert_string_equal(json_string_value(json_object_get(st, "scope")), "process");
        assert_int_equal(json_integer_value(json_object_get(st, "tracked_pid")), tree);
        json_decref(st);
}

/* The tracked process exits while its session is open, its rows due every millisecond: mttd
 * goes on answering, and the tree reads as empty. */
static void test_tracked_process_exits(void **state)
{
        pid_t child = fork();
        if (child == 0) {
                hold(20);
                usleep(50000);
                _exit(0);
        }
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        mtt_options o = {.socket_path = H.socket,
                         .label = "gone",
                         .scope = MTT_SCOPE_PROCESS,
                         .pid = child,
                         .min_interval_us = 100,
                         .calibrate = MTT_CALIBRATE_OFF};
        mtt_session *s;
        assert_int_equal(mtt_open_fd(null, &o, &s), 0);
        close(null);
        waitpid(child, NULL, 0);
        usleep(300000);
        json_t *st = status_of(mtt_session_id(s));
        assert_non_null(st);
        assert_string_equal(json_string_value(json_object_get(st, "state")), "running");
        assert_true(json_real_value(json_object_get(st, "ram")) == 0.0);
        json_decref(st);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
}

/* Only root may track another user's process. */
static void test_other_users_pid(void **state)
{
        if (geteuid() != 0) {
                print_message("skipped: needs root to become nobody\n");
                skip();
        }
        pid_t pid = fork();
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                int null = open("/dev/null", O_WRONLY);
                mtt_options o = {.socket_path = H.socket, .scope = MTT_SCOPE_PROCESS, .pid = 1};
                mtt_session *s;
                int r = mtt_open_fd(null, &o, &s);
                _exit(r == -EACCES || r == -EPERM ? 0 : 11);
        }
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        /* A process that is gone is said to be gone. */
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        mtt_options o = {.socket_path = H.socket, .scope = MTT_SCOPE_PROCESS, .pid = 999999999};
        mtt_session *s;
        assert_int_equal(mtt_open_fd(null, &o, &s), -EINVAL);
        close(null);
}

/* A opens, B opens, A closes, C opens, B closes, C closes: A and C ran beside B alone, B
 * beside both. */
static void test_overlaps(void **state)
{
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        mtt_options o = {.socket_path = H.socket};
        mtt_session *a, *b, *c;
        o.label = "A";
        assert_int_equal(mtt_open_fd(null, &o, &a), 0);
        o.label = "B";
        assert_int_equal(mtt_open_fd(null, &o, &b), 0);
        uint64_t ia = mtt_session_id(a), ib = mtt_session_id(b);
        assert_int_equal(mtt_close(a, MTT_COMPLETED), 0);
        o.label = "C";
        assert_int_equal(mtt_open_fd(null, &o, &c), 0);
        uint64_t ic = mtt_session_id(c);
        assert_int_equal(mtt_close(b, MTT_COMPLETED), 0);
        assert_int_equal(mtt_close(c, MTT_COMPLETED), 0);
        close(null);
        const struct {
                uint64_t id;
                int overlaps;
                const char *with;
        } want[] = {{ia, 1, "B"}, {ib, 2, "A"}, {ic, 1, "B"}};
        for (size_t i = 0; i < 3; i++) {
                json_t *st = status_of(want[i].id);
                assert_int_equal(json_integer_value(json_object_get(st, "overlaps")),
                                 want[i].overlaps);
                json_t *with = json_object_get(st, "overlapped_with");
                assert_string_equal(json_string_value(json_array_get(with, 0)), want[i].with);
                json_decref(st);
        }
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_process_scope),
            cmocka_unit_test(test_tracked_process_exits),
            cmocka_unit_test(test_other_users_pid),
            cmocka_unit_test(test_overlaps),
        };
        return harness_finish(&H, cmocka_run_group_tests(tests, start, NULL));
}

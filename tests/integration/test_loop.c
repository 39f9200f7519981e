/* Integration: the numbers of a benchmark loop. Runs tracked back to back each start at 0
 * (the baseline is the level at Open, never the run before), a report has its header once
 * Open is answered (a client killed right after Open leaves a report, not an empty file),
 * and an idle mttd takes no samples. The system scope's values come from a fake meminfo. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"

#define MIB 1024LL /* kB */

static harness H;
static char meminfo[] = "/tmp/mtt-loop-meminfo-XXXXXX";

static int start(void **state)
{
        if (harness_fake_meminfo(meminfo, 1000 * MIB) < 0)
                return -1;
        const char *args[] = {"--meminfo", meminfo, NULL};
        return harness_start(&H, args);
}

static int stop(void **state)
{
        unlink(meminfo);
        return 0;
}

static json_t *call(const char *method, const char *params)
{
        int fd = harness_connect(&H);
        assert_true(fd >= 0);
        json_t *r = harness_call(fd, method, params, NULL, 0);
        close(fd);
        assert_non_null(r);
        assert_null(harness_error(r));
        return r;
}

static json_t *params_of(json_t *reply, const char *key)
{
        return json_object_get(json_object_get(reply, "parameters"), key);
}

static double status_num(uint64_t id, const char *key)
{
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)id);
        json_t *r = call("io.mtt.Tracker.Status", params);
        double v = json_number_value(json_object_get(params_of(r, "session"), key));
        json_decref(r);
        return v;
}

/* Waits (up to 10 s) until mttd has sampled the machine at level_kb or more for the
 * session (its peak and baseline are GiB). */
static void wait_for_level(uint64_t id, long long level_kb)
{
        double gib = (double)level_kb / 1048576 - 1e-6;
        for (int i = 0; i < 1000 && status_num(id, "peak") + status_num(id, "baseline") < gib; i++)
                usleep(10000);
        assert_true(status_num(id, "peak") + status_num(id, "baseline") >= gib);
}

/* The data rows of a report: their lowest and highest ram, and how many. */
static int rows_range(const char *path, harness_ending ending, double *lo, double *hi)
{
        char *text = harness_read_file(path);
        assert_non_null(text);
        int rows;
        const char *why = harness_check_report(text, ending, &rows);
        if (why)
                fail_msg("%s in %s:\n%s", why, path, text);
        *lo = INFINITY;
        *hi = -INFINITY;
        char *save, *line = strtok_r(text, "\n", &save); /* the header */
        while ((line = strtok_r(NULL, "\n", &save))) {
                if (!strchr(line, '.'))
                        continue; /* an ending: data rows always have a decimal point */
                double v = strtod(strchr(line, ',') + 1, NULL);
                *lo = fmin(*lo, v);
                *hi = fmax(*hi, v);
        }
        free(text);
        return rows;
}

/* One tracked run: holds extra_mib more than the machine's 1000 MiB for hold_us, then
 * drops back to 1000 MiB and completes. */
static void tracked_run(const char *name, long long extra_mib, useconds_t hold_us, char *path,
                        size_t size)
{
        harness_path(&H, name, path, size);
        mtt_options o = {.socket_path = H.socket, .label = name};
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        if (extra_mib) {
                assert_int_equal(harness_write_meminfo(meminfo, (1000 + extra_mib) * MIB), 0);
                wait_for_level(mtt_session_id(s), (1000 + extra_mib) * MIB);
        }
        usleep(hold_us);
        assert_int_equal(harness_write_meminfo(meminfo, 1000 * MIB), 0);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
}

/* The loop: A holds +600 MiB for 1.5 s and ends, B (a `sleep 1`) opens at once, then
 * C holds +300 MiB. Each starts at 0; B reads 0 throughout, not A's memory as a negative
 * number (the mean of the 2 s before its Open said -0.536 GiB). */
static void test_back_to_back_runs_start_at_zero(void **state)
{
        char a[256], b[256], c[256];
        double lo, hi;
        tracked_run("a.csv", 600, 1500000, a, sizeof(a));
        tracked_run("b.csv", 0, 1000000, b, sizeof(b));
        tracked_run("c.csv", 300, 500000, c, sizeof(c));

        assert_true(rows_range(a, ENDING_COMPLETED, &lo, &hi) >= 3);
        print_message("a: %.6f .. %.6f GiB\n", lo, hi);
        assert_true(fabs(lo) < 1e-6);
        assert_true(fabs(hi - 600.0 / 1024) < 1e-6);
        assert_true(rows_range(b, ENDING_COMPLETED, &lo, &hi) >= 2);
        print_message("b: %.6f .. %.6f GiB\n", lo, hi);
        assert_true(fabs(lo) < 1e-6 && fabs(hi) < 1e-6);
        assert_true(rows_range(c, ENDING_COMPLETED, &lo, &hi) >= 3);
        print_message("c: %.6f .. %.6f GiB\n", lo, hi);
        assert_true(fabs(lo) < 1e-6);
        assert_true(fabs(hi - 300.0 / 1024) < 1e-6);
}

/* Open's reply means the report has its header and first row: read it at once. */
static void test_header_once_open_is_answered(void **state)
{
        for (int i = 0; i < 20; i++) {
                char path[256];
                harness_path(&H, "header.csv", path, sizeof(path));
                mtt_options o = {.socket_path = H.socket, .label = "header"};
                mtt_session *s;
                assert_int_equal(mtt_open(path, &o, &s), 0);
                char *text = harness_read_file(path);
                assert_non_null(text);
                if (strncmp(text, "delta,ram\n0.000000,", 19) != 0)
                        fail_msg("round %d: right after Open the report reads \"%s\"", i, text);
                free(text);
                assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        }
}

/* A client SIGKILLed right after Open leaves a report that reads as crashed ungracefully,
 * whenever it is read: at once, before mttd saw the hangup, and after. */
static void test_killed_right_after_open(void **state)
{
        char path[256];
        harness_path(&H, "killed.csv", path, sizeof(path));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                mtt_options o = {.socket_path = H.socket, .label = "killed"};
                mtt_session *s;
                if (mtt_open(path, &o, &s) == 0)
                        raise(SIGKILL);
                _exit(1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        mtt_report_verdict v;
        assert_int_equal(mtt_report_verdict_of(path, &v), 0);
        assert_int_equal(v, MTT_REPORT_CRASHED_UNGRACEFULLY);
        char *text = harness_read_file(path);
        assert_true(strncmp(text, "delta,ram\n0.000000,", 19) == 0);
        free(text);
}

static long long samples_taken(void)
{
        json_t *r = call("io.mtt.Tracker.Sample", NULL);
        long long n = json_integer_value(json_object_get(params_of(r, "stats"), "samples"));
        json_decref(r);
        return n;
}

/* With no session, mttd samples nothing: the baseline is taken at Open, so an idle mttd has
 * no reason to wake up (a Sample call reads meminfo without counting as a tick's sample). */
static void test_idle_takes_no_samples(void **state)
{
        char path[256];
        tracked_run("before-idle.csv", 0, 50000, path, sizeof(path));
        /* Its Close took the last sample; a tick still armed then takes none. */
        long long before = samples_taken();
        usleep(1500000);
        long long after = samples_taken();
        print_message("idle for 1.5 s: %lld samples\n", after - before);
        assert_int_equal(after, before);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_back_to_back_runs_start_at_zero),
            cmocka_unit_test(test_header_once_open_is_answered),
            cmocka_unit_test(test_killed_right_after_open),
            cmocka_unit_test(test_idle_takes_no_samples),
        };
        int failed = cmocka_run_group_tests(tests, start, stop);
        return harness_finish(&H, failed);
}

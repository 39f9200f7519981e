/* Integration: the GPUs of a real mttd with the fake NVML (tests/fake_nvml, loaded with
 * --nvml, its values from $FAKE_NVML_STATE). Sample: devices and their numbers as they
 * change, a lost device, an init that fails, no library at all; sessions go on through each.
 * The gpu and gpu-device scopes: a process tree's GPU memory (its processes found among
 * NVML's, others left out, a process in both lists counted once, every GPU summed), a 50 ms
 * spike kept as the peak, a process NVML gives no figure for, one GPU or all, a GPU that vanishes
 * mid-run (the session goes on and says so), no library (Open says what is missing), an NVML that
 * hangs (Open answered, the loop serving meanwhile). A run's RAM and GPU sessions do not overlap
 * each other. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static char state_path[] = "/tmp/mtt-fake-nvml-XXXXXX";
static char reads_path[] = "/tmp/mtt-fake-nvml-reads-XXXXXX";

/* The fake's state file, replaced whole (renamed into place): the fake reads it at every
 * call and must never see half of it. */
static void write_state(const char *text)
{
        char tmp[sizeof(state_path) + 8];
        snprintf(tmp, sizeof(tmp), "%s.new", state_path);
        FILE *f = fopen(tmp, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(rename(tmp, state_path), 0);
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sample's parameters (a new reference). */
static json_t *sample(const harness *h)
{
        int fd = harness_connect(h);
        assert_true(fd >= 0);
        json_t *r = harness_call(fd, "io.mtt.Tracker.Sample", NULL, NULL, 0);
        close(fd);
        assert_non_null(r);
        assert_null(harness_error(r));
        json_t *p = json_incref(json_object_get(r, "parameters"));
        json_decref(r);
        assert_non_null(json_object_get(p, "reading")); /* the memory is there as ever */
        return p;
}

static json_t *gpu(json_t *p, size_t i)
{
        return json_array_get(json_object_get(p, "gpus"), i);
}

static long long int_of(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        assert_true(json_is_integer(v));
        return (long long)json_integer_value(v);
}

static const char *str_of(json_t *o, const char *key)
{
        return json_string_value(json_object_get(o, key));
}

static int start_fake(harness *h, const char *state)
{
        write_state(state);
        static const char *const args[] = {"--nvml", FAKE_NVML_PATH, NULL};
        return harness_start(h, args);
}

static void test_devices_and_changes(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h,
                                    "# two GPUs\n"
                                    "device 0 \"Fake H200\" total 150000000000 used 1073741824\n"
                                    "device 1 \"Fake B200\" total 190000000000 used 5\n"
                                    "process 0 4242 536870912\n"),
                         0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 2);
        assert_null(json_object_get(p, "gpu_error"));
        assert_int_equal(int_of(gpu(p, 0), "index"), 0);
        assert_string_equal(str_of(gpu(p, 0), "name"), "Fake H200");
        assert_int_equal(int_of(gpu(p, 0), "total_bytes"), 150000000000ll);
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 1073741824ll);
        assert_null(json_object_get(gpu(p, 0), "error"));
        assert_int_equal(int_of(gpu(p, 1), "index"), 1);
        assert_string_equal(str_of(gpu(p, 1), "name"), "Fake B200");
        assert_int_equal(int_of(gpu(p, 1), "total_bytes"), 190000000000ll);
        assert_int_equal(int_of(gpu(p, 1), "used_bytes"), 5);
        json_decref(p);

        /* New values while mttd runs: the next Sample reads them. */
        write_state("device 0 \"Fake H200\" total 150000000000 used 2147483648\n"
                    "device 1 \"Fake B200\" total 190000000000 used 77\n");
        p = sample(&h);
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 2147483648ll);
        assert_int_equal(int_of(gpu(p, 1), "used_bytes"), 77);
        json_decref(p);

        /* A device lost: Sample still answers, that device says so, the other has numbers. */
        write_state("device 0 \"Fake H200\" total 150000000000 used 3000\n"
                    "device 1 \"Fake B200\" total 190000000000 used 88\n"
                    "lost 0\n");
        p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 2);
        assert_string_equal(str_of(gpu(p, 0), "error"), "GPU is lost");
        assert_string_equal(str_of(gpu(p, 0), "name"), "Fake H200"); /* known from before */
        assert_null(json_object_get(gpu(p, 1), "error"));
        assert_int_equal(int_of(gpu(p, 1), "used_bytes"), 88); /* read after the lost one */
        json_decref(p);
        assert_true(harness_session_completes(&h, "lost"));
        assert_int_equal(harness_stop(&h, true), 0);
}

/* NVML's init, and the driver's code under it, run on the GPU thread: a MiB of stack is
 * there for it. */
static void test_init_uses_stack(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h,
                                    "device 0 \"Fake H200\" total 150000000000 used 1073741824\n"
                                    "stack init 1024\n"),
                         0);
        json_t *p = sample(&h);
        assert_null(json_object_get(p, "gpu_error"));
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 1073741824ll);
        json_decref(p);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* An nvmlShutdown that hangs at mttd's end: it runs on the GPU thread, which mttd leaves
 * behind after a read's time, and mttd ends (a clean stop) without waiting for the driver. */
static void test_shutdown_hangs(void **state)
{
        harness h;
        write_state("device 0 \"Fake H200\" total 150000000000 used 1073741824\n"
                    "slow shutdown 30000\n");
        static const char *const args[] = {"--nvml", FAKE_NVML_PATH, "--read-timeout-ms", "300",
                                           NULL};
        assert_int_equal(harness_start(&h, args), 0);
        json_decref(sample(&h)); /* NVML loaded */
        double t0 = now_s();
        assert_int_equal(harness_stop(&h, true), 0);
        double took = now_s() - t0;
        if (took > 20.0)
                fail_msg("mttd took %.1f s to stop: it waited for nvmlShutdown", took);
}

/* NVML's init fails: no GPUs, and why; a load is not tried again at once, but after a few
 * seconds it is. */
static void test_init_fails(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h, "device 0 \"Fake H200\" total 1000 used 10\n"
                                        "fail init 9\n"),
                         0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 0);
        assert_string_equal(str_of(p, "gpu_error"), "NVML: Driver Not Loaded");
        json_decref(p);
        assert_true(harness_session_completes(&h, "noinit"));

        write_state("device 0 \"Fake H200\" total 1000 used 10\n");
        p = sample(&h);
        assert_string_equal(str_of(p, "gpu_error"), "NVML: Driver Not Loaded");
        json_decref(p);
        usleep(5200000);
        p = sample(&h);
        assert_null(json_object_get(p, "gpu_error"));
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 1);
        assert_int_equal(int_of(gpu(p, 0), "used_bytes"), 10);
        json_decref(p);
        assert_int_equal(harness_stop(&h, true), 0);
}

static void test_no_device(void **state)
{
        harness h;
        assert_int_equal(start_fake(&h, "# a driver, no GPU\n"), 0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 0);
        assert_string_equal(str_of(p, "gpu_error"), "no NVIDIA GPU");
        json_decref(p);
        assert_int_equal(harness_stop(&h, true), 0);
}

static void test_no_library(void **state)
{
        harness h;
        static const char *const args[] = {"--nvml", "/nonexistent.so", NULL};
        assert_int_equal(harness_start(&h, args), 0);
        json_t *p = sample(&h);
        assert_int_equal(json_array_size(json_object_get(p, "gpus")), 0);
        assert_string_equal(str_of(p, "gpu_error"), "/nonexistent.so not found (no NVIDIA driver)");
        json_decref(p);
        assert_true(harness_session_completes(&h, "nolib"));
        assert_int_equal(harness_stop(&h, true), 0);
}

/* The real libnvidia-ml.so.1, wherever this runs: with GPUs, each has a name and a total;
 * without, a reason. Sessions work either way. */
static void test_the_real_one(void **state)
{
        harness h;
        assert_int_equal(harness_start(&h, NULL), 0);
        json_t *p = sample(&h);
        json_t *gpus = json_object_get(p, "gpus");
        assert_true(json_is_array(gpus));
        if (json_array_size(gpus) == 0) {
                const char *why = str_of(p, "gpu_error");
                assert_non_null(why);
                assert_true(why[0] != '\0');
                print_message("no GPU here: %s\n", why);
        }
        for (size_t i = 0; i < json_array_size(gpus); i++)
                if (!json_object_get(gpu(p, i), "error"))
                        assert_true(int_of(gpu(p, i), "total_bytes") > 0);
        json_decref(p);
        assert_true(harness_session_completes(&h, "real"));
        assert_int_equal(harness_stop(&h, true), 0);
}

#define GIB 1073741824ll

/* The memory reads of GPU 0 the fake has served (one per read of mttd's). */
static long long reads(void)
{
        char *text = harness_read_file(reads_path);
        long long n = text ? atoll(text) : 0;
        free(text);
        return n;
}

/* Waits until mttd made n more reads than before (those began after what the test wrote). */
static void wait_reads(long long before, long long n)
{
        for (int i = 0; i < 2000 && reads() < before + n; i++)
                usleep(5000);
        assert_true(reads() >= before + n);
}

/* An Open on a connection of its own (kept: the session lives on it) into NAME.csv. */
static json_t *open_on(const harness *h, int *conn, const char *name, const char *params)
{
        char path[256], file[96], call[512];
        snprintf(file, sizeof(file), "%s.csv", name);
        harness_path(h, file, path, sizeof(path));
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        *conn = harness_connect(h);
        assert_true(*conn >= 0);
        snprintf(call, sizeof(call), "{\"fd\": 0, \"label\": \"%s\", %s}", name, params);
        json_t *r = harness_call(*conn, "io.mtt.Tracker.Open", call, &fd, 1);
        close(fd);
        assert_non_null(r);
        return r;
}

static json_t *session_of(json_t *reply)
{
        return json_object_get(json_object_get(reply, "parameters"), "session");
}

static const char *reason_of(json_t *reply)
{
        return json_string_value(json_object_get(json_object_get(reply, "parameters"), "reason"));
}

/* An Open with params is refused with error (io.mtt.Tracker's), and reason when not NULL. */
static void refused(const harness *h, const char *params, const char *error, const char *reason)
{
        int conn;
        char name[96];
        json_t *r = open_on(h, &conn, "refused", params);
        snprintf(name, sizeof(name), "io.mtt.Tracker.%s", error);
        if (!harness_error(r) || strcmp(harness_error(r), name) != 0)
                fail_msg("Open {%s}: %s, not %s", params, harness_error(r), name);
        if (reason)
                assert_string_equal(reason_of(r), reason);
        json_decref(r);
        close(conn);
}

static uint64_t id_of(json_t *reply)
{
        json_t *s = session_of(reply);
        assert_non_null(s);
        return (uint64_t)json_integer_value(json_object_get(s, "id"));
}

/* A gpu session of root's tree, raw (calibrate false), into NAME.csv: its id. */
static uint64_t open_tree(const harness *h, int *conn, const char *name, pid_t root)
{
        char params[96];
        snprintf(params, sizeof(params), "\"scope\": \"gpu\", \"pid\": %d, \"calibrate\": false",
                 (int)root);
        json_t *r = open_on(h, conn, name, params);
        if (harness_error(r))
                fail_msg("Open {%s}: %s", params, harness_error(r));
        uint64_t id = id_of(r);
        json_decref(r);
        return id;
}

static json_t *status(const harness *h, uint64_t id)
{
        char params[64];
        snprintf(params, sizeof(params), "{\"id\": %llu}", (unsigned long long)id);
        int fd = harness_connect(h);
        json_t *r = harness_call(fd, "io.mtt.Tracker.Status", params, NULL, 0);
        close(fd);
        json_t *s = json_incref(session_of(r));
        json_decref(r);
        assert_non_null(s);
        return s;
}

/* Waits until the session has its first value, and so its baseline: Open is answered with
 * it, unless that read takes longer than the read timeout (under valgrind, say). */
static void wait_first_row(const harness *h, uint64_t id)
{
        long long rows = 0;
        for (int i = 0; i < 1000 && rows < 1; i++) {
                json_t *s = status(h, id);
                rows = json_integer_value(json_object_get(s, "rows"));
                json_decref(s);
                if (rows < 1)
                        usleep(10000);
        }
        if (rows < 1)
                fail_msg("session %llu: no first row", (unsigned long long)id);
}

/* The session's status says no GPU failed to be read. */
static void expect_no_gpu_error(const harness *h, uint64_t id)
{
        json_t *s = status(h, id);
        if (json_object_get(s, "gpu_error"))
                fail_msg("session %llu: gpu_error \"%s\"", (unsigned long long)id,
                         str_of(s, "gpu_error"));
        json_decref(s);
}

/* Waits until the session's ram (GiB) is gib (to the report's six decimals). */
static void wait_ram(const harness *h, uint64_t id, double gib)
{
        double ram = -1;
        for (int i = 0; i < 1000; i++) {
                json_t *s = status(h, id);
                ram = json_real_value(json_object_get(s, "ram"));
                json_decref(s);
                if (ram > gib - 1e-6 && ram < gib + 1e-6)
                        return;
                usleep(10000);
        }
        fail_msg("session %llu: ram %.6f GiB, not %.6f", (unsigned long long)id, ram, gib);
}

static void close_on(int conn, uint64_t id, const char *outcome)
{
        char params[96];
        snprintf(params, sizeof(params), "{\"id\": %llu, \"outcome\": \"%s\"}",
                 (unsigned long long)id, outcome);
        json_t *r = harness_call(conn, "io.mtt.Tracker.Close", params, NULL, 0);
        assert_non_null(r);
        assert_null(harness_error(r));
        json_decref(r);
        close(conn);
}

/* The data rows' lowest and highest values, and whether a row has exactly gib. */
typedef struct range {
        double min, max;
        bool has;
} range;

static range report_range(const char *text, double gib)
{
        range r = {1e9, -1e9, false};
        for (const char *line = strchr(text, '\n'); line && line[1];
             line = strchr(line + 1, '\n')) {
                double t, v;
                const char *dot = strchr(line + 1, '.'), *end = strchr(line + 1, '\n');
                if (sscanf(line + 1, "%lf,%lf", &t, &v) != 2 || !dot || (end && dot > end))
                        continue; /* an ending's sentinel row */
                r.min = v < r.min ? v : r.min;
                r.max = v > r.max ? v : r.max;
                r.has = r.has || (v > gib - 1e-6 && v < gib + 1e-6);
        }
        return r;
}

/* The report NAME is whole, with that ending, a row at level, peak as its maximum, and no
 * value below floor. */
static void expect_report(const harness *h, const char *name, harness_ending ending, double level,
                          double peak, double floor)
{
        char path[256];
        char *text = harness_read_file(harness_path(h, name, path, sizeof(path)));
        assert_non_null(text);
        int rows;
        const char *why = harness_check_report(text, ending, &rows);
        if (why)
                fail_msg("%s in:\n%s", why, text);
        range at = report_range(text, level), top = report_range(text, peak);
        if (!at.has || !top.has || top.max > peak + 1e-6 || at.min < floor - 1e-6)
                fail_msg("%s: want a row at %.3f, a peak of %.3f and nothing below %.3f GiB "
                         "in:\n%s",
                         name, level, peak, floor, text);
        free(text);
}

/* A tree: a child that forks a grandchild; both wait to be killed. *grandchild gets its pid. */
static pid_t tree(pid_t *grandchild)
{
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                pid_t g = fork();
                if (g == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        pause();
                        _exit(0);
                }
                if (write(p[1], &g, sizeof(g)) != sizeof(g))
                        _exit(1);
                pause();
                _exit(0);
        }
        close(p[1]);
        assert_int_equal(read(p[0], grandchild, sizeof(*grandchild)), sizeof(*grandchild));
        close(p[0]);
        return child;
}

static void kill_tree(pid_t child)
{
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
}

/* The gpu scope: the tree's processes on every GPU, a process in both of a GPU's lists once,
 * the test's own (not in the tree) left out; a spike of 50 ms, read twice, is the report's
 * peak; the report ends completed, and Status says what was measured. */
static void test_gpu_scope(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[1024];
        const char *const gpus = "device 0 \"Fake H200\" total 150000000000 used 20000000000\n"
                                 "device 1 \"Fake H100\" total 80000000000 used 3000000000\n";
        assert_int_equal(start_fake(&h, gpus), 0);
        int conn;
        char params[128];
        snprintf(params, sizeof(params),
                 "\"scope\": \"gpu\", \"pid\": %d, \"min_interval_us\": 1000", (int)c);
        json_t *r = open_on(&h, &conn, "tree", params);
        assert_null(harness_error(r));
        uint64_t id = id_of(r);
        assert_string_equal(str_of(session_of(r), "scope"), "gpu");
        assert_int_equal(int_of(session_of(r), "tracked_pid"), c);
        json_decref(r);
        wait_first_row(&h, id); /* its baseline: the tree held nothing */

        /* 1 GiB of the grandchild's in both lists of GPU 0, and 512 MiB of the child's on
         * GPU 1: 1.5 GiB; and 7 GiB of a process outside the tree (the test's). */
        snprintf(text, sizeof(text),
                 "%sprocess 0 %d %lld\nprocess 0 %d %lld\ngraphics 0 %d %lld\nprocess 1 %d %lld\n",
                 gpus, (int)getpid(), 7 * GIB, (int)g, GIB, (int)g, GIB, (int)c, GIB / 2);
        write_state(text);
        wait_ram(&h, id, 1.5);
        /* A tree inside the tree (the grandchild's): its 1 GiB counts in both. */
        int inner_conn;
        uint64_t inner = open_tree(&h, &inner_conn, "inner", g);
        wait_ram(&h, inner, 1.0);
        close_on(inner_conn, inner, "completed");
        wait_ram(&h, id, 1.5);

        /* The spike: 5 GiB more for 50 ms and at least two reads (the second began after the
         * state changed), then back. */
        snprintf(text, sizeof(text),
                 "%sprocess 0 %d %lld\nprocess 0 %d %lld\ngraphics 0 %d %lld\nprocess 1 %d %lld\n",
                 gpus, (int)getpid(), 7 * GIB, (int)g, 6 * GIB, (int)g, GIB, (int)c, GIB / 2);
        long long before = reads();
        write_state(text);
        usleep(50000);
        wait_reads(before, 2);
        snprintf(text, sizeof(text),
                 "%sprocess 0 %d %lld\nprocess 0 %d %lld\ngraphics 0 %d %lld\nprocess 1 %d %lld\n",
                 gpus, (int)getpid(), 7 * GIB, (int)g, GIB, (int)g, GIB, (int)c, GIB / 2);
        write_state(text);
        wait_ram(&h, id, 1.5);
        json_t *s = status(&h, id);
        assert_true(json_real_value(json_object_get(s, "peak")) > 6.5 - 1e-6);
        assert_true(json_real_value(json_object_get(s, "peak")) < 6.5 + 1e-6);
        assert_null(json_object_get(s, "gpu_error"));
        json_decref(s);
        close_on(conn, id, "completed");
        kill_tree(c);

        expect_report(&h, "tree.csv", ENDING_COMPLETED, 1.5, 6.5, 0.0);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* Waits until the session's gpu_error has words in it. */
static void wait_gpu_error(const harness *h, uint64_t id, const char *words)
{
        char *last = NULL;
        for (int i = 0; i < 1000; i++) {
                json_t *s = status(h, id);
                const char *e = str_of(s, "gpu_error");
                free(last);
                last = e ? strdup(e) : NULL;
                json_decref(s);
                if (last && strstr(last, words)) {
                        free(last);
                        return;
                }
                usleep(10000);
        }
        fail_msg("session %llu: gpu_error \"%s\", not one with \"%s\"", (unsigned long long)id,
                 last ? last : "(none)", words);
}

/* NVML gives no memory figure for a process of the tree (NVML_VALUE_NOT_AVAILABLE, as under
 * MIG): the session has no value meanwhile, rather than one made without it, and says why; a
 * process outside the tree without a figure changes nothing; a process whose compute entry
 * has none counts its graphics entry's. */
static void test_gpu_process_without_figure(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[1024], words[128];
        const char *const dev = "device 0 \"Fake H200\" total 150000000000 used 20000000000\n";
        snprintf(text, sizeof(text), "%sprocess 0 %d %lld\ngraphics 0 %d na\n", dev, (int)g, GIB,
                 (int)getpid());
        assert_int_equal(start_fake(&h, text), 0);
        int conn;
        uint64_t id = open_tree(&h, &conn, "unknown", c);
        wait_ram(&h, id, 1.0);
        expect_no_gpu_error(&h, id);

        /* The grandchild's 3 GiB are known, the child's memory is not: no 3 GiB row. */
        snprintf(text, sizeof(text), "%sprocess 0 %d %lld\nprocess 0 %d na\n", dev, (int)g, 3 * GIB,
                 (int)c);
        long long before = reads();
        write_state(text);
        snprintf(words, sizeof(words), "GPU 0: NVML gives no memory figure for process %d", (int)c);
        wait_gpu_error(&h, id, words);
        wait_reads(before, 5);
        json_t *s = status(&h, id);
        assert_true(json_real_value(json_object_get(s, "ram")) < 1.0 + 1e-6);
        json_decref(s);
        /* The grandchild back to 1 GiB first, and two reads of that: a read spans several of
         * the fake's calls, each of which reads the state as it is then, and one torn
         * between the 3 GiB above and the graphics entry below would make 3.5 GiB. */
        snprintf(text, sizeof(text), "%sprocess 0 %d %lld\nprocess 0 %d na\n", dev, (int)g, GIB,
                 (int)c);
        before = reads();
        write_state(text);
        wait_reads(before, 2);

        /* Its compute entry without a figure, its graphics entry with 512 MiB: 1.5 GiB. */
        snprintf(text, sizeof(text), "%sprocess 0 %d %lld\nprocess 0 %d na\ngraphics 0 %d %lld\n",
                 dev, (int)g, GIB, (int)c, (int)c, GIB / 2);
        write_state(text);
        wait_ram(&h, id, 1.5);
        expect_no_gpu_error(&h, id);
        close_on(conn, id, "completed");
        kill_tree(c);
        expect_report(&h, "unknown.csv", ENDING_COMPLETED, 1.0, 1.5, 1.0);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* A process list that NVML cannot give (an error of its own) leaves the tree without a value,
 * said in gpu_error; a GPU without graphics lists (NOT_SUPPORTED) counts its compute list. */
static void test_gpu_process_list_fails(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[512];
        const char *const dev = "device 0 \"Fake H200\" total 150000000000 used 20000000000\n";
        snprintf(text, sizeof(text), "%sgraphics 0 %d %lld\n", dev, (int)g, GIB);
        assert_int_equal(start_fake(&h, text), 0);
        int conn;
        uint64_t id = open_tree(&h, &conn, "lists", c);
        wait_ram(&h, id, 1.0);

        /* The graphics list fails: its 1 GiB is not known, and neither is the tree's. */
        snprintf(text, sizeof(text), "%sgraphics 0 %d %lld\nprocess 0 %d %lld\nfail graphics 999\n",
                 dev, (int)g, GIB, (int)c, 2 * GIB);
        write_state(text);
        wait_gpu_error(&h, id, "GPU 0: ");
        json_t *s = status(&h, id);
        assert_true(json_real_value(json_object_get(s, "ram")) < 1.0 + 1e-6);
        json_decref(s);

        /* No graphics lists on this GPU (NOT_SUPPORTED): the compute list's 2 GiB. */
        snprintf(text, sizeof(text), "%sprocess 0 %d %lld\nfail graphics 3\n", dev, (int)c,
                 2 * GIB);
        write_state(text);
        wait_ram(&h, id, 2.0);
        expect_no_gpu_error(&h, id);
        close_on(conn, id, "completed");
        kill_tree(c);
        expect_report(&h, "lists.csv", ENDING_COMPLETED, 1.0, 2.0, 1.0);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* The gpu-device scope: one GPU above its level at Open, every GPU raw; a GPU index past
 * NVML's count and parameters that do not fit are refused; a GPU lost mid-run: the session
 * runs on, makes no rows and says so, then goes on once it is back. */
static void test_gpu_device_scope(void **state)
{
        harness h;
        const char *both = "device 0 \"Fake H200\" total 150000000000 used 10737418240\n"
                           "device 1 \"Fake H100\" total 80000000000 used 21474836480\n";
        assert_int_equal(start_fake(&h, both), 0);
        int one, all;
        json_t *r = open_on(&h, &one, "one", "\"scope\": \"gpu-device\", \"gpu\": 1");
        assert_null(harness_error(r));
        uint64_t id_one = id_of(r);
        assert_int_equal(int_of(session_of(r), "gpu"), 1);
        assert_null(json_object_get(session_of(r), "tracked_pid"));
        json_decref(r);
        r = open_on(&h, &all, "all", "\"scope\": \"gpu-device\", \"calibrate\": false");
        assert_null(harness_error(r));
        uint64_t id_all = id_of(r);
        assert_null(json_object_get(session_of(r), "gpu"));
        json_decref(r);
        wait_ram(&h, id_all, 30.0);

        write_state("device 0 \"Fake H200\" total 150000000000 used 10737418240\n"
                    "device 1 \"Fake H100\" total 80000000000 used 22548578304\n");
        wait_ram(&h, id_one, 1.0);
        wait_ram(&h, id_all, 31.0);

        refused(&h, "\"scope\": \"gpu-device\", \"gpu\": 2", "GpuUnavailable",
                "no GPU 2: NVML counts 2 (0 to 1)");
        refused(&h, "\"scope\": \"gpu\", \"gpu\": 0", "InvalidParameter", NULL);
        refused(&h, "\"scope\": \"gpu-device\", \"pid\": 1", "InvalidParameter", NULL);
        refused(&h, "\"scope\": \"gpu-device\", \"gpu\": -1", "InvalidParameter", NULL);

        /* GPU 1 is lost: both sessions run on without rows (no value made up from GPU 0
         * alone, or from nothing), and say why. */
        write_state("device 0 \"Fake H200\" total 150000000000 used 10737418240\n"
                    "device 1 \"Fake H100\" total 80000000000 used 22548578304\n"
                    "lost 1\n");
        wait_gpu_error(&h, id_all, "GPU 1: GPU is lost");
        wait_gpu_error(&h, id_one, "GPU 1: GPU is lost");
        json_t *s = status(&h, id_all);
        assert_string_equal(str_of(s, "state"), "running");
        assert_string_equal(str_of(s, "gpu_error"), "GPU 1: GPU is lost");
        long long rows = int_of(s, "rows");
        json_decref(s);
        long long before = reads();
        wait_reads(before, 30); /* rows would be due meanwhile */
        s = status(&h, id_all);
        assert_int_equal(int_of(s, "rows"), rows); /* no rows meanwhile */
        json_decref(s);

        /* It is back, with 2 GiB more: rows go on, the message is gone. */
        write_state("device 0 \"Fake H200\" total 150000000000 used 10737418240\n"
                    "device 1 \"Fake H100\" total 80000000000 used 24696061952\n");
        wait_ram(&h, id_all, 33.0);
        wait_ram(&h, id_one, 3.0);
        expect_no_gpu_error(&h, id_all);
        close_on(one, id_one, "completed");
        close_on(all, id_all, "failed");
        expect_report(&h, "one.csv", ENDING_COMPLETED, 1.0, 3.0, 0.0);
        expect_report(&h, "all.csv", ENDING_FAILED, 31.0, 33.0, 30.0);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* No NVML: an Open of a GPU scope is refused with what is missing (the first while the
 * load is out, the next from what it found), and nothing is left behind. */
static void test_gpu_scope_without_nvml(void **state)
{
        harness h;
        static const char *const args[] = {"--nvml", "/nonexistent/libnvidia-ml.so.1", NULL};
        assert_int_equal(harness_start(&h, args), 0);
        for (int i = 0; i < 2; i++)
                refused(&h, i ? "\"scope\": \"gpu-device\"" : "\"scope\": \"gpu\"",
                        "GpuUnavailable",
                        "/nonexistent/libnvidia-ml.so.1 not found (no NVIDIA driver)");
        int fd = harness_connect(&h);
        json_t *r = harness_call(fd, "io.mtt.Tracker.List", NULL, NULL, 0);
        close(fd);
        assert_int_equal(
            json_array_size(json_object_get(json_object_get(r, "parameters"), "sessions")), 0);
        json_decref(r);
        assert_true(harness_session_completes(&h, "ram"));
        assert_int_equal(harness_stop(&h, true), 0);
}

/* An NVML whose init hangs (4 s): the Open waiting for it is answered at the read timeout
 * with why, the loop serves everyone meanwhile, and once NVML is there, an Open works. */
static void test_nvml_hangs(void **state)
{
        harness h;
        write_state("device 0 \"Fake H200\" total 150000000000 used 1000\nslow init 4000\n");
        static const char *const args[] = {"--nvml", FAKE_NVML_PATH, "--read-timeout-ms", "300",
                                           NULL};
        assert_int_equal(harness_start(&h, args), 0);
        double t0 = now_s();
        int conn;
        json_t *r = open_on(&h, &conn, "hang", "\"scope\": \"gpu-device\"");
        assert_string_equal(harness_error(r), "io.mtt.Tracker.GpuUnavailable");
        assert_non_null(strstr(reason_of(r), "has not come back"));
        json_decref(r);
        close(conn);
        /* Still inside NVML's init: the loop answers others and makes RAM sessions. */
        assert_true(harness_session_completes(&h, "ram"));
        int fd = harness_connect(&h);
        r = harness_call(fd, "io.mtt.Tracker.List", NULL, NULL, 0);
        close(fd);
        assert_null(harness_error(r));
        json_decref(r);
        assert_true(now_s() - t0 < 3.5);
        for (int i = 0; i < 500; i++) { /* the init returns at 4 s */
                r = open_on(&h, &conn, "after", "\"scope\": \"gpu-device\"");
                if (!harness_error(r))
                        break;
                json_decref(r);
                close(conn);
                r = NULL;
                usleep(20000);
        }
        assert_non_null(r);
        uint64_t id = id_of(r);
        json_decref(r);
        close_on(conn, id, "completed");
        assert_int_equal(harness_stop(&h, true), 0);
}

/* A gpu session opened on a process that holds GPU memory already, while reads for another
 * session are out (slow ones): its baseline is what the process holds, from a read of its
 * own, not a value its first read never had. */
static void test_gpu_baseline_while_reading(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[512];
        snprintf(text, sizeof(text),
                 "device 0 \"Fake H200\" total 150000000000 used %lld\nprocess 0 %d %lld\n"
                 "slow read 20\n",
                 10 * GIB, (int)g, 2 * GIB);
        assert_int_equal(start_fake(&h, text), 0);
        int dev_conn, tree_conn;
        json_t *r = open_on(&h, &dev_conn, "dev", "\"scope\": \"gpu-device\"");
        uint64_t dev_id = id_of(r);
        json_decref(r);
        for (int i = 0; i < 5; i++) { /* each Open finds a read out, most likely */
                char params[96];
                snprintf(params, sizeof(params), "\"scope\": \"gpu\", \"pid\": %d", (int)c);
                r = open_on(&h, &tree_conn, "tree", params);
                assert_null(harness_error(r));
                uint64_t id = id_of(r);
                double baseline = json_real_value(json_object_get(session_of(r), "baseline"));
                json_decref(r);
                if (baseline < 2.0 - 1e-6 || baseline > 2.0 + 1e-6)
                        fail_msg("Open %d: baseline %.6f GiB, not the 2 GiB the tree holds", i,
                                 baseline);
                close_on(tree_conn, id, "completed");
        }
        close_on(dev_conn, dev_id, "completed");
        kill_tree(c);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* An Open of the gpu scope whose first read takes a while (here 300 ms: NVML loaded, no
 * session running, so the writers' next round is a tick away) is answered once the tree's
 * first value is there: the report has its first row and the baseline is what the tree
 * held at Open, not what it allocated once told to go. */
static void test_gpu_open_waits_for_first_value(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[512], params[96], path[256];
        snprintf(text, sizeof(text),
                 "device 0 \"Fake H200\" total 150000000000 used %lld\nprocess 0 %d %lld\n"
                 "slow read 300\n",
                 10 * GIB, (int)g, 2 * GIB);
        assert_int_equal(start_fake(&h, text), 0);
        json_decref(sample(&h)); /* NVML loaded, as mttctl's and Python's Sample first do */
        int conn;
        snprintf(params, sizeof(params), "\"scope\": \"gpu\", \"pid\": %d", (int)c);
        json_t *r = open_on(&h, &conn, "first", params);
        assert_null(harness_error(r));
        uint64_t id = id_of(r);
        double baseline = json_real_value(json_object_get(session_of(r), "baseline"));
        long long rows = int_of(session_of(r), "rows");
        json_decref(r);
        char *report = harness_read_file(harness_path(&h, "first.csv", path, sizeof(path)));
        assert_non_null(report);
        if (rows < 1 || baseline < 2.0 - 1e-6 || baseline > 2.0 + 1e-6 ||
            strcmp(report, "delta,ram\n0.000000,0.000000\n") != 0)
                fail_msg("Open answered with %lld rows, baseline %.6f GiB (not 2), report:\n%s",
                         rows, baseline, report);
        free(report);
        close_on(conn, id, "completed");
        kill_tree(c);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* An Open whose first read takes longer than an Open waits for its header (the write stall
 * bound, 5 s), with a read timeout longer still: the header goes alone at half that bound, so
 * the Open is answered with the report emptied (truncate) and its header there, not with
 * yesterday's report still in the file. */
static void test_gpu_open_of_a_slow_first_read(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[512], params[128], path[256];
        snprintf(text, sizeof(text),
                 "device 0 \"Fake H200\" total 150000000000 used %lld\nprocess 0 %d %lld\n",
                 10 * GIB, (int)g, 2 * GIB);
        write_state(text);
        static const char *const args[] = {"--nvml", FAKE_NVML_PATH, "--read-timeout-ms", "10000",
                                           NULL};
        assert_int_equal(harness_start(&h, args), 0);
        json_decref(sample(&h)); /* NVML loaded, its reads quick */
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "slow read 5500\n");
        write_state(text);

        harness_path(&h, "old.csv", path, sizeof(path));
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs("delta,ram\n0.100000,0.500000\n0,0\n", f);
        assert_int_equal(fclose(f), 0);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        int conn = harness_connect(&h);
        snprintf(params, sizeof(params),
                 "{\"fd\": 0, \"truncate\": true, \"scope\": \"gpu\", "
                 "\"pid\": %d}",
                 (int)c);
        double t0 = now_s();
        json_t *r = harness_call(conn, "io.mtt.Tracker.Open", params, &fd, 1);
        double took = now_s() - t0;
        close(fd);
        assert_null(harness_error(r));
        json_decref(r);
        char *report = harness_read_file(path);
        assert_non_null(report);
        if (strcmp(report, "delta,ram\n") != 0 || took > 4.5)
                fail_msg("Open answered after %.1f s, the report:\n%s", took, report);
        free(report);
        snprintf(text, sizeof(text), "device 0 \"Fake H200\" total 150000000000 used %lld\n",
                 10 * GIB);
        write_state(text);
        close(conn);
        kill_tree(c);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* Where the fake's "leak fd" opens the fd it leaks: not the state file, which every call of
 * the fake opens for a moment to read (a count of those would race with the GPU thread). */
static char leak_path[sizeof(state_path) + 8];

/* How many fds mttd (pid) holds on path (or on the file that was there: "PATH (deleted)"). */
static int fds_on(pid_t pid, const char *path)
{
        char dir[64], link[320], to[256];
        snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
        DIR *d = opendir(dir);
        assert_non_null(d);
        int found = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
                ssize_t n = readlink(link, to, sizeof(to) - 1);
                if (n > 0) {
                        to[n] = '\0';
                        found += strncmp(to, path, strlen(path)) == 0;
                }
        }
        closedir(d);
        return found;
}

/* GPU sessions outlive mttd (a re-exec, SIGUSR2): the tree and the GPU are measured again
 * by the new mttd, and the reports go on to their ends. */
static void test_gpu_sessions_restart(void **state)
{
        if (getenv("MTT_TEST_VALGRIND"))
                skip(); /* a re-exec under valgrind would exec valgrind's own program */
        harness h;
        pid_t g, c = tree(&g);
        char text[512];
        snprintf(
            text, sizeof(text),
            "device 0 \"Fake H200\" total 150000000000 used %lld\nprocess 0 %d %lld\nleak fd\n",
            10 * GIB, (int)g, GIB);
        assert_int_equal(start_fake(&h, text), 0);
        int tree_conn, dev_conn;
        uint64_t tree_id = open_tree(&h, &tree_conn, "tree", c);
        json_t *r = open_on(&h, &dev_conn, "dev",
                            "\"scope\": \"gpu-device\", \"gpu\": 0, \"calibrate\": false");
        uint64_t dev_id = id_of(r);
        json_decref(r);
        wait_ram(&h, tree_id, 1.0);
        wait_ram(&h, dev_id, 10.0);

        /* The fake NVML left an fd open without O_CLOEXEC, as a driver may: the next mttd
         * does not get it. */
        assert_int_equal(fds_on(h.pid, leak_path), 1);
        assert_int_equal(kill(h.pid, SIGUSR2), 0);
        long long restarts = 0;
        for (int i = 0; i < 1000 && restarts < 1; i++) {
                usleep(10000);
                json_t *s = status(&h, dev_id);
                restarts = json_integer_value(json_object_get(s, "restarts"));
                json_decref(s);
        }
        assert_int_equal(restarts, 1);
        /* Still leaking: the new mttd may load NVML before or after this state. */
        snprintf(
            text, sizeof(text),
            "device 0 \"Fake H200\" total 150000000000 used %lld\nprocess 0 %d %lld\nleak fd\n",
            12 * GIB, (int)g, 2 * GIB);
        write_state(text);
        wait_ram(&h, tree_id, 2.0);
        wait_ram(&h, dev_id, 12.0);
        /* NVML loaded again: its own fd, and not the old mttd's. */
        assert_int_equal(fds_on(h.pid, leak_path), 1);
        json_t *s = status(&h, tree_id);
        assert_int_equal(int_of(s, "restarts"), 1);
        assert_int_equal(int_of(s, "tracked_pid"), c);
        json_decref(s);
        close_on(tree_conn, tree_id, "completed");
        close_on(dev_conn, dev_id, "completed");
        kill_tree(c);
        expect_report(&h, "tree.csv", ENDING_COMPLETED, 1.0, 2.0, 1.0);
        expect_report(&h, "dev.csv", ENDING_COMPLETED, 10.0, 12.0, 10.0);
        assert_int_equal(harness_stop(&h, true), 0);
}

/* Another process's session: a gpu-device session of GPU 0 opened by a child, which holds it
 * until *release is closed. Returns the child once the Open was answered, its id in *id. */
static pid_t other_process_session(const harness *h, int *release, uint64_t *id)
{
        int opened[2], hold[2];
        assert_int_equal(pipe2(opened, O_CLOEXEC), 0);
        assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
        pid_t c = fork();
        assert_true(c >= 0);
        if (c == 0) {
                close(opened[0]);
                close(hold[1]);
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC), conn = harness_connect(h);
                json_t *r = harness_call(
                    conn, "io.mtt.Tracker.Open",
                    "{\"fd\": 0, \"label\": \"other\", \"scope\": \"gpu-device\", \"gpu\": 0}", &fd,
                    1);
                json_t *s = r && !harness_error(r) ? session_of(r) : NULL;
                uint64_t got = s ? (uint64_t)json_integer_value(json_object_get(s, "id")) : 0;
                if (write(opened[1], &got, sizeof(got)) != sizeof(got) || got == 0)
                        _exit(1);
                char byte;
                while (read(hold[0], &byte, 1) > 0)
                        ;
                _exit(0);
        }
        close(opened[1]);
        close(hold[0]);
        *id = 0;
        assert_int_equal(read(opened[0], id, sizeof(*id)), sizeof(*id));
        close(opened[0]);
        assert_true(*id > 0);
        *release = hold[1];
        return c;
}

static void expect_overlaps(const harness *h, uint64_t id, long long n)
{
        json_t *s = status(h, id);
        if (int_of(s, "overlaps") != n)
                fail_msg("session %s: %lld overlaps, not %lld", str_of(s, "label"),
                         int_of(s, "overlaps"), n);
        json_decref(s);
}

/* A run's RAM and GPU sessions, opened by one process (mttctl run --gpu-output does so), are
 * one workload: they do not overlap each other, so the RAM one is not "shared machine". Two
 * RAM sessions of one process still do, and another process's GPU session overlaps both. */
static void test_gpu_and_ram_of_one_run(void **state)
{
        harness h;
        assert_int_equal(
            start_fake(&h, "device 0 \"Fake H200\" total 150000000000 used 1073741824\n"), 0);
        int ram_conn, gpu_conn, ram2_conn;
        json_t *r = open_on(&h, &ram_conn, "ram", "\"calibrate\": false");
        uint64_t ram = id_of(r);
        json_decref(r);
        r = open_on(&h, &gpu_conn, "gpu", "\"scope\": \"gpu-device\", \"gpu\": 0");
        uint64_t gpu = id_of(r);
        json_decref(r);
        expect_overlaps(&h, ram, 0);
        expect_overlaps(&h, gpu, 0);
        r = open_on(&h, &ram2_conn, "ram2", "\"calibrate\": false");
        uint64_t ram2 = id_of(r);
        json_decref(r);
        int release;
        uint64_t other;
        pid_t child = other_process_session(&h, &release, &other);
        expect_overlaps(&h, ram, 2);   /* ram2, other */
        expect_overlaps(&h, gpu, 1);   /* other */
        expect_overlaps(&h, ram2, 2);  /* ram, other */
        expect_overlaps(&h, other, 3); /* ram, gpu, ram2 */
        close(release);
        int st;
        assert_int_equal(waitpid(child, &st, 0), child);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close_on(ram2_conn, ram2, "completed");
        close_on(gpu_conn, gpu, "completed");
        close_on(ram_conn, ram, "completed");
        assert_int_equal(harness_stop(&h, true), 0);
}

/* The last GPU session goes without a read for its end (its client hangs up) while a tick's
 * quiet read is out: that read is still collected, so the GPUs are not "late" for good and a
 * later GPU Open works. */
static void test_gpu_open_after_last_hangs_up(void **state)
{
        harness h;
        assert_int_equal(
            start_fake(&h, "device 0 \"Fake H200\" total 150000000000 used 1073741824\n"), 0);
        for (int round = 0; round < 2; round++) {
                int conn;
                json_t *r = open_on(&h, &conn, "first", "\"scope\": \"gpu-device\"");
                assert_null(harness_error(r));
                json_decref(r);
                /* Old enough that its rows no longer ask for reads of their own: the tick's
                 * quiet reads are all there is. */
                usleep(1000000);
                long long before = reads();
                wait_reads(before, 2);
                close(conn);     /* a hangup: no Close, no read for its end */
                usleep(1500000); /* past the read timeout (1 s) */
                /* A read late on a loaded machine refuses an Open for a while; the wedge did
                 * for good. */
                char why[256] = "";
                bool opened = false;
                for (int i = 0; i < 50 && !opened; i++) {
                        r = open_on(&h, &conn, "second", "\"scope\": \"gpu-device\"");
                        opened = harness_error(r) == NULL;
                        if (!opened) {
                                snprintf(why, sizeof(why), "%s (%s)", harness_error(r),
                                         reason_of(r) ? reason_of(r) : "");
                                usleep(200000);
                        }
                        json_decref(r);
                        close(conn);
                }
                if (!opened)
                        fail_msg("round %d: no GPU Open for 10 s after the hangup: %s", round, why);
        }
        assert_int_equal(harness_stop(&h, true), 0);
}

/* Sources released while their read is out (their clients hang up during slow reads) are
 * freed once it is back, and not touched after (valgrind and ASan run this too). */
static void test_gpu_sources_go_while_read(void **state)
{
        harness h;
        pid_t g, c = tree(&g);
        char text[512];
        snprintf(text, sizeof(text),
                 "device 0 \"Fake H200\" total 150000000000 used 1000\nprocess 0 %d %lld\n"
                 "slow read 300\n",
                 (int)g, GIB);
        assert_int_equal(start_fake(&h, text), 0);
        char params[128];
        snprintf(params, sizeof(params), "\"scope\": \"gpu\", \"pid\": %d", (int)c);
        for (int i = 0; i < 3; i++) {
                int conn;
                json_t *r = open_on(&h, &conn, "orphan", params);
                assert_null(harness_error(r));
                json_decref(r);
                long long before = reads();
                wait_reads(before, 1); /* a read of its tree is out (300 ms each) */
                close(conn);
                usleep(400000); /* ... and back */
        }
        kill_tree(c);
        assert_true(harness_session_completes(&h, "after"));
        assert_int_equal(harness_stop(&h, true), 0);
}

static int setup(void **state)
{
        int fd = mkstemp(state_path);
        if (fd < 0)
                return -1;
        close(fd);
        snprintf(leak_path, sizeof(leak_path), "%s.leak", state_path);
        if ((fd = mkstemp(reads_path)) < 0)
                return -1;
        close(fd);
        return setenv("FAKE_NVML_STATE", state_path, 1) || setenv("FAKE_NVML_READS", reads_path, 1);
}

static int teardown(void **state)
{
        char tmp[sizeof(reads_path) + 4];
        snprintf(tmp, sizeof(tmp), "%s.tmp", reads_path); /* the fake's, if it died writing */
        unlink(tmp);
        unlink(state_path);
        unlink(leak_path);
        unlink(reads_path);
        return 0;
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_devices_and_changes),
            cmocka_unit_test(test_init_uses_stack),
            cmocka_unit_test(test_shutdown_hangs),
            cmocka_unit_test(test_init_fails),
            cmocka_unit_test(test_no_device),
            cmocka_unit_test(test_no_library),
            cmocka_unit_test(test_the_real_one),
            cmocka_unit_test(test_gpu_scope),
            cmocka_unit_test(test_gpu_process_without_figure),
            cmocka_unit_test(test_gpu_process_list_fails),
            cmocka_unit_test(test_gpu_device_scope),
            cmocka_unit_test(test_gpu_scope_without_nvml),
            cmocka_unit_test(test_nvml_hangs),
            cmocka_unit_test(test_gpu_baseline_while_reading),
            cmocka_unit_test(test_gpu_open_waits_for_first_value),
            cmocka_unit_test(test_gpu_open_of_a_slow_first_read),
            cmocka_unit_test(test_gpu_sessions_restart),
            cmocka_unit_test(test_gpu_and_ram_of_one_run),
            cmocka_unit_test(test_gpu_open_after_last_hangs_up),
            cmocka_unit_test(test_gpu_sources_go_while_read),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* Tests for client/lib/session.c: the Open call the library makes of mtt_options (the scope,
 * its GPU, the pid), what it refuses before it connects, the GPUs it asks for (Sample) before
 * it touches the report, GpuUnavailable as -ENODEV, and the report left to mttd to empty
 * (a refused Open leaves it; an older mttd without truncate). mttd is a fake: a forked process that
 * records each call and answers Sample with its GPUs and every other call with one reply. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "mtt/client.h"
#include "proto/interface.h"

static char dir[] = "/tmp/mtt-unit-open-XXXXXX";
static char sock_path[64], report_path[64];

typedef struct fake {
        pid_t pid;
        int calls; /* the calls it got, each followed by a NUL */
} fake;

/* What the fake answers Sample with: this many GPUs (0 to 64). */
static int fake_gpus = 64;
/* Whether the fake is an mttd from before Open's truncate: it refuses that parameter. */
static bool fake_old;

static void send_reply(int c, const char *call, const char *reply)
{
        char sample[4096];
        if (fake_old && strstr(call, "\"truncate\""))
                reply = "{\"error\": \"" MTT_PROTO_ERROR_VARLINK_PARAMETER
                        "\", \"parameters\": {\"parameter\": \"truncate\"}}";
        if (strstr(call, MTT_PROTO_METHOD_SAMPLE)) {
                int n = snprintf(sample, sizeof(sample), "{\"parameters\": {\"gpus\": [");
                for (int i = 0; i < fake_gpus; i++)
                        n += snprintf(sample + n, sizeof(sample) - (size_t)n, "%s{\"index\": %d}",
                                      i ? ", " : "", i);
                snprintf(sample + n, sizeof(sample) - (size_t)n, "]%s}}",
                         fake_gpus ? "" : ", \"gpu_error\": \"no NVIDIA GPU\"");
                reply = sample;
        }
        (void)!send(c, reply, strlen(reply) + 1, MSG_NOSIGNAL);
}

/* Answers every call of one connection until the client hangs up (send_reply), and sends
 * each call it read down calls. */
static void fake_serve(int listener, int calls, const char *reply)
{
        int c = accept(listener, NULL, NULL);
        char buf[65536];
        size_t n = 0;
        ssize_t got;
        while (c >= 0 && (got = recv(c, buf + n, sizeof(buf) - n, 0)) > 0) {
                (void)!write(calls, buf + n, (size_t)got);
                n += (size_t)got;
                char *end;
                while ((end = memchr(buf, '\0', n))) {
                        send_reply(c, buf, reply);
                        n -= (size_t)(end + 1 - buf);
                        memmove(buf, end + 1, n);
                }
        }
        _exit(0);
}

static void fake_start(fake *f, const char *reply)
{
        int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
        unlink(sock_path);
        assert_int_equal(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(listener, 4), 0);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        f->pid = fork();
        assert_true(f->pid >= 0);
        if (f->pid == 0) {
                close(p[0]);
                fake_serve(listener, p[1], reply);
        }
        close(listener);
        close(p[1]);
        f->calls = p[0];
}

/* How many Opens the fake got, as fake_open_params last read them. */
static int fake_opens;

/* The parameters of the fake's first Open (a new reference), or NULL if it got none, once
 * it has exited. *sampled: whether a Sample came first. */
static json_t *fake_open_params(fake *f, bool *sampled)
{
        int status;
        assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
        char buf[65536];
        size_t n = 0;
        ssize_t got;
        while ((got = read(f->calls, buf + n, sizeof(buf) - 1 - n)) > 0)
                n += (size_t)got;
        close(f->calls);
        buf[n] = '\0';
        *sampled = false;
        fake_opens = 0;
        json_t *first = NULL;
        for (const char *at = buf; at < buf + n; at += strlen(at) + 1) {
                json_error_t e;
                json_t *call = json_loads(at, 0, &e);
                assert_non_null(call);
                const char *method = json_string_value(json_object_get(call, "method"));
                assert_non_null(method);
                if (strcmp(method, MTT_PROTO_METHOD_OPEN) == 0 && fake_opens++ == 0) {
                        first = json_incref(json_object_get(call, "parameters"));
                        assert_non_null(first);
                }
                *sampled = *sampled || (!first && strcmp(method, MTT_PROTO_METHOD_SAMPLE) == 0);
                json_decref(call);
        }
        return first;
}

static const char session_reply[] = "{\"parameters\": {\"session\": {\"id\": 5, \"state\": "
                                    "\"running\"}}}";

/* Opens a session with o on a fake answering reply; returns mtt_open's result and sets
 * *params to the Open call's parameters (NULL: no Open was sent). A GPU scope asks for the
 * GPUs (Sample) first, and no other does. */
static int open_on_fake(mtt_options o, const char *reply, json_t **params)
{
        fake f;
        fake_start(&f, reply);
        o.socket_path = sock_path;
        o.timeout_ms = 10000;
        mtt_session *s = NULL;
        int r = mtt_open(report_path, &o, &s);
        if (r == 0)
                mtt_close(s, MTT_COMPLETED);
        bool sampled;
        *params = fake_open_params(&f, &sampled);
        assert_int_equal(sampled, o.scope == MTT_SCOPE_GPU || o.scope == MTT_SCOPE_GPU_DEVICE);
        return r;
}

static void test_gpu_scope_sends_its_pid(void **state)
{
        json_t *p;
        mtt_options o = {.scope = MTT_SCOPE_GPU, .pid = 4242};
        assert_int_equal(open_on_fake(o, session_reply, &p), 0);
        assert_string_equal(json_string_value(json_object_get(p, "scope")), MTT_PROTO_SCOPE_GPU);
        assert_int_equal(json_integer_value(json_object_get(p, "pid")), 4242);
        assert_null(json_object_get(p, "gpu"));
        json_decref(p);
}

static void test_gpu_device_of_one_gpu(void **state)
{
        json_t *p;
        mtt_options o = {.scope = MTT_SCOPE_GPU_DEVICE, .gpu_device = MTT_GPU_DEVICE(0)};
        assert_int_equal(open_on_fake(o, session_reply, &p), 0);
        assert_string_equal(json_string_value(json_object_get(p, "scope")),
                            MTT_PROTO_SCOPE_GPU_DEVICE);
        assert_true(json_is_integer(json_object_get(p, "gpu")));
        assert_int_equal(json_integer_value(json_object_get(p, "gpu")), 0);
        assert_null(json_object_get(p, "pid"));
        json_decref(p);

        o.gpu_device = MTT_GPU_DEVICE(MTT_PROTO_GPU_INDEX_MAX);
        assert_int_equal(open_on_fake(o, session_reply, &p), 0);
        assert_int_equal(json_integer_value(json_object_get(p, "gpu")), MTT_PROTO_GPU_INDEX_MAX);
        json_decref(p);
}

static void test_gpu_device_of_every_gpu(void **state)
{
        json_t *p;
        mtt_options o = {.scope = MTT_SCOPE_GPU_DEVICE};
        assert_int_equal(open_on_fake(o, session_reply, &p), 0);
        assert_string_equal(json_string_value(json_object_get(p, "scope")),
                            MTT_PROTO_SCOPE_GPU_DEVICE);
        assert_null(json_object_get(p, "gpu"));
        json_decref(p);
}

static void test_system_scope_sends_no_scope(void **state)
{
        json_t *p;
        assert_int_equal(open_on_fake((mtt_options){0}, session_reply, &p), 0);
        assert_null(json_object_get(p, "scope"));
        assert_null(json_object_get(p, "gpu"));
        json_decref(p);
}

static void test_gpu_unavailable_is_enodev(void **state)
{
        json_t *p;
        mtt_options o = {.scope = MTT_SCOPE_GPU_DEVICE, .gpu_device = MTT_GPU_DEVICE(5)};
        assert_int_equal(open_on_fake(o,
                                      "{\"error\": \"" MTT_PROTO_ERROR_GPU_UNAVAILABLE
                                      "\", \"parameters\": {\"reason\": \"no GPU 5\"}}",
                                      &p),
                         -ENODEV);
        assert_int_equal(json_integer_value(json_object_get(p, "gpu")), 5);
        json_decref(p);
}

/* Where mttd reads no GPU, or not that one, mtt_open says so before it creates or truncates
 * the report (yesterday's is left as it was), and sends no Open. */
static void test_no_gpu_leaves_the_report(void **state)
{
        static const struct {
                int gpus;
                mtt_options o;
        } cases[] = {
            {0, {.scope = MTT_SCOPE_GPU}},
            {0, {.scope = MTT_SCOPE_GPU_DEVICE}},
            {1, {.scope = MTT_SCOPE_GPU_DEVICE, .gpu_device = MTT_GPU_DEVICE(1)}},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                FILE *f = fopen(report_path, "we");
                assert_non_null(f);
                fputs("yesterday\n", f);
                assert_int_equal(fclose(f), 0);
                fake_gpus = cases[i].gpus;
                json_t *p;
                assert_int_equal(open_on_fake(cases[i].o, session_reply, &p), -ENODEV);
                assert_null(p);
                struct stat st;
                assert_int_equal(stat(report_path, &st), 0);
                assert_int_equal(st.st_size, 10);
        }
        /* One GPU is enough for GPU 0, and for the gpu scope. */
        fake_gpus = 1;
        json_t *p;
        assert_int_equal(open_on_fake((mtt_options){.scope = MTT_SCOPE_GPU_DEVICE,
                                                    .gpu_device = MTT_GPU_DEVICE(0)},
                                      session_reply, &p),
                         0);
        assert_non_null(p);
        json_decref(p);
        fake_gpus = 64;
}

/* Yesterday's report at report_path (10 bytes), or none. */
static void yesterday(bool there)
{
        unlink(report_path);
        if (!there)
                return;
        FILE *f = fopen(report_path, "we");
        assert_non_null(f);
        fputs("yesterday\n", f);
        assert_int_equal(fclose(f), 0);
}

/* The size of the file at report_path, or -1 where there is none. */
static long long report_size(void)
{
        struct stat st;
        return stat(report_path, &st) == 0 ? (long long)st.st_size : -1;
}

/* mtt_open leaves emptying an existing report to mttd (truncate), which does it once the
 * session is open: a refused Open leaves it as it was, and makes no file where there was
 * none. */
static void test_refused_open_leaves_the_report(void **state)
{
        json_t *p;
        yesterday(true);
        assert_int_equal(open_on_fake((mtt_options){0}, session_reply, &p), 0);
        assert_true(json_is_true(json_object_get(p, "truncate")));
        json_decref(p);
        assert_int_equal(report_size(), 10); /* the fake writes nothing, and nor did the client */

        static const char *const refusals[] = {
            "{\"error\": \"" MTT_PROTO_ERROR_TOO_MANY_SESSIONS
            "\", \"parameters\": {\"limit\": 1}}",
            "{\"error\": \"" MTT_PROTO_ERROR_INVALID_PARAMETER "\", \"parameters\": "
            "{\"parameter\": \"min_interval_us\", \"reason\": \"out of range\"}}",
        };
        for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
                yesterday(true);
                assert_true(open_on_fake((mtt_options){0}, refusals[i], &p) < 0);
                json_decref(p);
                assert_int_equal(report_size(), 10);
                yesterday(false);
                assert_true(open_on_fake((mtt_options){0}, refusals[i], &p) < 0);
                json_decref(p);
                assert_int_equal(report_size(), -1);
        }
}

/* An mttd from before truncate refuses it: the client empties the file itself, as it did,
 * and opens again without it. */
static void test_older_mttd_without_truncate(void **state)
{
        json_t *p;
        yesterday(true);
        fake_old = true;
        assert_int_equal(open_on_fake((mtt_options){0}, session_reply, &p), 0);
        fake_old = false;
        assert_true(json_is_true(json_object_get(p, "truncate")));
        json_decref(p);
        assert_int_equal(fake_opens, 2);
        assert_int_equal(report_size(), 0);
}

/* Refused before anything touches the report file: no socket listens, so an option that
 * got past the checks would fail with -ENOENT instead. */
static int open_unchecked(mtt_options o)
{
        unlink(sock_path);
        unlink(report_path);
        o.socket_path = sock_path;
        mtt_session *s = NULL;
        int r = mtt_open(report_path, &o, &s);
        assert_null(s);
        struct stat st;
        assert_int_equal(stat(report_path, &st), -1); /* the report was never created */
        return r;
}

static void test_bad_gpu_options_are_einval(void **state)
{
        /* A GPU for another scope than gpu-device. */
        static const mtt_scope others[] = {MTT_SCOPE_SYSTEM, MTT_SCOPE_PROCESS, MTT_SCOPE_CGROUP,
                                           MTT_SCOPE_GPU};
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
                assert_int_equal(open_unchecked((mtt_options){.scope = others[i],
                                                              .gpu_device = MTT_GPU_DEVICE(0)}),
                                 -EINVAL);
        /* Out of range. */
        assert_int_equal(open_unchecked((mtt_options){
                             .scope = MTT_SCOPE_GPU_DEVICE,
                             .gpu_device = MTT_GPU_DEVICE(MTT_PROTO_GPU_INDEX_MAX + 1)}),
                         -EINVAL);
        assert_int_equal(
            open_unchecked((mtt_options){.scope = MTT_SCOPE_GPU_DEVICE, .gpu_device = -1}),
            -EINVAL);
        /* A scope the library does not know. */
        assert_int_equal(
            open_unchecked((mtt_options){.scope = (mtt_scope)(MTT_SCOPE_GPU_DEVICE + 1)}), -EINVAL);
        /* And what passes the checks reaches the (missing) socket. */
        assert_int_equal(
            open_unchecked((mtt_options){.scope = MTT_SCOPE_GPU_DEVICE,
                                         .gpu_device = MTT_GPU_DEVICE(MTT_PROTO_GPU_INDEX_MAX)}),
            -ENOENT);
        assert_int_equal(open_unchecked((mtt_options){.scope = MTT_SCOPE_GPU}), -ENOENT);
}

static int setup(void **state)
{
        if (!mkdtemp(dir))
                return -1;
        snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
        snprintf(report_path, sizeof(report_path), "%s/report.csv", dir);
        signal(SIGPIPE, SIG_IGN);
        return 0;
}

static int teardown(void **state)
{
        unlink(sock_path);
        unlink(report_path);
        rmdir(dir);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_gpu_scope_sends_its_pid),
            cmocka_unit_test(test_gpu_device_of_one_gpu),
            cmocka_unit_test(test_gpu_device_of_every_gpu),
            cmocka_unit_test(test_system_scope_sends_no_scope),
            cmocka_unit_test(test_gpu_unavailable_is_enodev),
            cmocka_unit_test(test_no_gpu_leaves_the_report),
            cmocka_unit_test(test_bad_gpu_options_are_einval),
            cmocka_unit_test(test_refused_open_leaves_the_report),
            cmocka_unit_test(test_older_mttd_without_truncate),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

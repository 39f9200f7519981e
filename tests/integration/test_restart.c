/* Integration: sessions outlive mttd across a re-exec (SIGUSR2: the path an mttd run by hand
 * takes to a new binary; under systemd, test_restart_nspawn.sh does restarts and crashes).
 * The clients notice nothing: sessions go on with rows after the gap, Close and Watch work
 * across it, another user's 50 sessions too, and the status says a restart happened. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"
#include "proto/connection.h"
#include "proto/interface.h"

#define MIB 1024LL /* kB */
/* Levels above the 1000 MiB at Open whose rows print exactly (GiB: 1/8 and 1/4). */
#define BEFORE_MIB 128
#define AFTER_MIB  256
#define BEFORE_ROW ",0.125000"
#define AFTER_ROW  ",0.250000"

static harness H;
static char meminfo[] = "/tmp/mtt-restart-meminfo-XXXXXX";

static int start(void **state)
{
        if (harness_fake_meminfo(meminfo, 1000 * MIB) < 0)
                return -1;
        /* A write that stalls holds a handover up this long at most. */
        const char *args[] = {"--meminfo", meminfo, "--stop-timeout-s", "1", NULL};
        return harness_start(&H, args);
}

static int stop(void **state)
{
        unlink(meminfo);
        return 0;
}

static void level(long long extra_mib)
{
        assert_int_equal(harness_write_meminfo(meminfo, (1000 + extra_mib) * MIB), 0);
}

static void sleep_ms(int ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

/* How many times the log says a new mttd took sessions up. */
static int takeovers(void)
{
        char *log = harness_read_file(H.log);
        int n = 0;
        for (const char *p = log; p && (p = strstr(p, "from the previous mttd")); p++)
                n++;
        free(log);
        return n;
}

/* SIGUSR2, and the new mttd has taken everything up. */
static void reexec(void)
{
        int before = takeovers();
        assert_int_equal(kill(H.pid, SIGUSR2), 0);
        for (int i = 0; i < 1000 && takeovers() == before; i++)
                sleep_ms(10);
        assert_int_equal(takeovers(), before + 1);
}

/* Waits (up to 10 s) until the report at path has a row ending in row. */
static bool has_row(const char *path, const char *row)
{
        for (int i = 0; i < 1000; i++) {
                char *text = harness_read_file(path);
                bool found = text && strstr(text, row);
                free(text);
                if (found)
                        return true;
                sleep_ms(10);
        }
        return false;
}

/* The report is whole and completed, in order, with a row of the level before the restart
 * and then one of the level after it. */
static void check_report(const char *path)
{
        char *text = harness_read_file(path);
        assert_non_null(text);
        int rows;
        const char *why = harness_check_report(text, ENDING_COMPLETED, &rows);
        if (why)
                fail_msg("%s: %s\n%s", path, why, text);
        const char *before = strstr(text, BEFORE_ROW), *after = strstr(text, AFTER_ROW);
        assert_non_null(before);
        assert_non_null(after);
        assert_true(before < after);
        free(text);
}

static json_t *status(uint64_t id)
{
        int fd = harness_connect(&H);
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)id);
        json_t *r = harness_call(fd, MTT_PROTO_METHOD_STATUS, params, NULL, 0);
        close(fd);
        assert_null(harness_error(r));
        return r;
}

static json_t *session_of(json_t *reply)
{
        return json_object_get(json_object_get(reply, "parameters"), "session");
}

/* A session goes on across the re-exec: rows after it, its Close answered, the report
 * completed, and its status says it went through one restart and how long the gap was. */
static void test_session_goes_on(void **state)
{
        level(0);
        char path[256];
        mtt_session *s = harness_open(&H, "across", path, sizeof(path));
        assert_non_null(s);
        uint64_t id = mtt_session_id(s);
        level(BEFORE_MIB);
        assert_true(has_row(path, BEFORE_ROW));
        reexec();
        level(AFTER_MIB);
        assert_true(has_row(path, AFTER_ROW));
        json_t *r = status(id);
        json_t *st = session_of(r);
        assert_string_equal(json_string_value(json_object_get(st, "state")), "running");
        assert_int_equal(json_integer_value(json_object_get(st, "restarts")), 1);
        double gap = json_real_value(json_object_get(st, "restart_gap"));
        print_message("restart gap %.3f s\n", gap);
        assert_true(gap > 0 && gap < 5);
        json_decref(r);
        level(0);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        check_report(path);
        /* A new client is served as before. */
        assert_true(harness_session_completes(&H, "after"));
}

/* Another user's 50 sessions in one client go on across the re-exec; the client closes them
 * all, each report completed. */
static void test_another_users_fifty(void **state)
{
        if (geteuid() != 0)
                skip();
        enum { N = 50 };
        char dir[256];
        harness_path(&H, "nobody", dir, sizeof(dir));
        assert_int_equal(mkdir(dir, 0777), 0);
        assert_int_equal(chmod(dir, 0777), 0);
        int opened[2], go[2];
        assert_int_equal(pipe(opened), 0);
        assert_int_equal(pipe(go), 0);
        level(0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                /* Only the test's ends: a test that fails leaves it an EOF, not a wait. */
                close(opened[0]);
                close(go[1]);
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                mtt_session *s[N];
                for (int i = 0; i < N; i++) {
                        char path[300];
                        snprintf(path, sizeof(path), "%s/u%d.csv", dir, i);
                        mtt_options o = {.socket_path = H.socket, .label = "nobody's"};
                        if (mtt_open(path, &o, &s[i]) < 0)
                                _exit(11);
                }
                char c = 'o';
                if (write(opened[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
                        _exit(12);
                int bad = 0;
                for (int i = 0; i < N; i++)
                        bad += mtt_close(s[i], MTT_COMPLETED) != 0;
                _exit(bad ? 13 : 0);
        }
        char c;
        assert_int_equal(read(opened[0], &c, 1), 1);
        char path[N][300];
        for (int i = 0; i < N; i++)
                snprintf(path[i], sizeof(path[i]), "%s/u%d.csv", dir, i);
        level(BEFORE_MIB);
        for (int i = 0; i < N; i++)
                assert_true(has_row(path[i], BEFORE_ROW));
        reexec();
        level(AFTER_MIB);
        for (int i = 0; i < N; i++)
                assert_true(has_row(path[i], AFTER_ROW));
        level(0);
        assert_int_equal(write(go[1], "g", 1), 1);
        int ws;
        assert_int_equal(waitpid(child, &ws, 0), child);
        assert_true(WIFEXITED(ws));
        assert_int_equal(WEXITSTATUS(ws), 0);
        for (int i = 0; i < N; i++)
                check_report(path[i]);
        close(opened[0]);
        close(opened[1]);
        close(go[0]);
        close(go[1]);
}

/* A Watch goes on across the re-exec: the watcher sees the rows after it, then the end. */
static void test_watch_goes_on(void **state)
{
        level(0);
        char path[256];
        mtt_session *s = harness_open(&H, "watched", path, sizeof(path));
        assert_non_null(s);
        uint64_t id = mtt_session_id(s);
        mtt_proto_conn w;
        assert_int_equal(mtt_proto_conn_open(&w, H.socket), 0);
        json_t *msg = mtt_proto_call_new(MTT_PROTO_METHOD_WATCH,
                                         json_pack("{s:I}", "id", (json_int_t)id), true, false);
        assert_int_equal(mtt_proto_conn_send(&w, msg, NULL, 0), 0);
        json_decref(msg);
        mtt_proto_reply r;
        assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
        assert_null(r.error);
        mtt_proto_reply_done(&r);
        for (int phase = 0; phase < 2; phase++) {
                long long extra = phase == 0 ? BEFORE_MIB : AFTER_MIB;
                level(extra);
                bool reached = false;
                double last = -1;
                while (!reached) {
                        assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
                        assert_null(r.error);
                        assert_true(r.continues);
                        double delta = json_number_value(json_object_get(r.parameters, "delta"));
                        assert_true(delta > last);
                        last = delta;
                        double gib = json_number_value(json_object_get(r.parameters, "ram"));
                        reached = fabs(gib - extra / 1024.0) < 1e-6;
                        mtt_proto_reply_done(&r);
                }
                if (phase == 0)
                        reexec();
        }
        level(0);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        for (;;) {
                assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
                assert_null(r.error);
                if (!r.continues)
                        break;
                mtt_proto_reply_done(&r);
        }
        json_t *session = json_object_get(r.parameters, "session");
        assert_string_equal(json_string_value(json_object_get(session, "state")), "completed");
        assert_int_equal(json_integer_value(json_object_get(session, "restarts")), 1);
        mtt_proto_reply_done(&r);
        mtt_proto_conn_close(&w);
        check_report(path);
}

/* A process-scope session goes on too: its process is held again by the pidfd passed on,
 * and its rows come from the same process tree. Its job goes with it. */
static void test_process_scope_goes_on(void **state)
{
        char path[256];
        harness_path(&H, "tree.csv", path, sizeof(path));
        mtt_options o = {.socket_path = H.socket,
                         .label = "tree",
                         .scope = MTT_SCOPE_PROCESS,
                         .timeout_ms = 5000,
                         .job = "4242_7"};
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        uint64_t id = mtt_session_id(s);
        reexec();
        json_t *r = status(id);
        json_t *st = session_of(r);
        assert_string_equal(json_string_value(json_object_get(st, "state")), "running");
        assert_string_equal(json_string_value(json_object_get(st, "scope")), "process");
        assert_int_equal(json_integer_value(json_object_get(st, "tracked_pid")), getpid());
        assert_int_equal(json_integer_value(json_object_get(st, "restarts")), 1);
        assert_string_equal(json_string_value(json_object_get(st, "job")), "4242_7");
        json_decref(r);
        /* Its process tree is read again: the status counts its processes. */
        bool read = false;
        for (int i = 0; i < 500 && !read; i++) {
                r = status(id);
                read = json_integer_value(json_object_get(session_of(r), "processes")) >= 1;
                json_decref(r);
                if (!read)
                        sleep_ms(10);
        }
        assert_true(read);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        char *text = harness_read_file(path);
        int rows;
        const char *why = harness_check_report(text, ENDING_COMPLETED, &rows);
        if (why)
                fail_msg("%s\n%s", why, text);
        free(text);
}

/* A report whose write is stalled when mttd hands over (a pipe nobody reads) may be cut
 * there: the new mttd does not go on with it, and its client hears why at its Close. */
static void test_stalled_write_is_not_resumed(void **state)
{
        level(0);
        int p[2];
        assert_int_equal(harness_full_pipe(p), 0);
        mtt_options o = {.socket_path = H.socket, .label = "stalled", .timeout_ms = 10000};
        mtt_session *s;
        assert_int_equal(mtt_open_fd(p[1], &o, &s), 0);
        close(p[1]);
        uint64_t id = mtt_session_id(s);
        reexec();
        json_t *r = status(id);
        json_t *st = session_of(r);
        assert_string_equal(json_string_value(json_object_get(st, "state")), "error");
        const char *cause = json_string_value(json_object_get(st, "cause"));
        assert_non_null(cause);
        assert_non_null(strstr(cause, "mttd restarted and could not resume the session: a write "
                                      "of its report had not come back"));
        json_decref(r);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), -EIO);
        close(p[0]);
        /* The others are served as before. */
        assert_true(harness_session_completes(&H, "after stall"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_session_goes_on),
            cmocka_unit_test(test_another_users_fifty),
            cmocka_unit_test(test_watch_goes_on),
            cmocka_unit_test(test_process_scope_goes_on),
            cmocka_unit_test(test_stalled_write_is_not_resumed),
        };
        int failed = cmocka_run_group_tests(tests, start, stop);
        return harness_finish(&H, failed);
}

/* Integration: Watch against a live mttd. A watcher sees the rows the report gets, the
 * session's end last; Watch() follows every session the caller may see; a watcher that
 * does not read is dropped, not waited for. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"
#include "proto/connection.h"
#include "proto/interface.h"

#define MIB 1024LL /* kB */

static harness H;
/* The machine's memory is a fake meminfo: the rows the test asserts are the levels it writes,
 * not whatever the live machine does meanwhile. */
static char meminfo[] = "/tmp/mtt-watch-meminfo-XXXXXX";

static int start(void **state)
{
        if (harness_fake_meminfo(meminfo, 1000 * MIB) < 0)
                return -1;
        /* A small output buffer: a watcher that does not read is dropped sooner. */
        const char *args[] = {"--max-output-kb", "16", "--meminfo", meminfo, NULL};
        return harness_start(&H, args);
}

static int stop(void **state)
{
        unlink(meminfo);
        return 0;
}

/* Sends Watch with "more" (id < 0: every session) and returns its first reply. */
static void watch(mtt_proto_conn *c, long long id, mtt_proto_reply *first)
{
        assert_int_equal(mtt_proto_conn_open(c, H.socket), 0);
        json_t *params = id < 0 ? json_object() : json_pack("{s:I}", "id", (json_int_t)id);
        json_t *msg = mtt_proto_call_new(MTT_PROTO_METHOD_WATCH, params, true, false);
        assert_int_equal(mtt_proto_conn_send(c, msg, NULL, 0), 0);
        json_decref(msg);
        assert_int_equal(mtt_proto_conn_recv(c, 5000, first), 0);
}

static char *row_text(const json_t *params)
{
        char *line;
        if (asprintf(&line, "%.6f,%.6f", json_real_value(json_object_get(params, "delta")),
                     json_number_value(json_object_get(params, "ram"))) < 0)
                return NULL;
        return line;
}

/* The report's data rows, without header and ending. */
static size_t report_rows(char *text, char **rows, size_t max)
{
        size_t n = 0;
        char *save;
        for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
                if (strchr(l, '.'))
                        rows[n++] = l;
        return n;
}

/* The rows a watcher prints are the report's rows: each one, in order, from the moment it
 * started watching; the last reply is the ended session. */
static void test_rows_equal_the_report(void **state)
{
        char path[256];
        mtt_session *s = harness_open(&H, "watched", path, sizeof(path));
        assert_non_null(s);
        uint64_t id = mtt_session_id(s);

        mtt_proto_conn w;
        mtt_proto_reply r;
        watch(&w, (long long)id, &r);
        assert_null(r.error);
        assert_true(r.continues);
        json_t *session = json_object_get(r.parameters, "session");
        assert_int_equal(json_integer_value(json_object_get(session, "id")), id);
        assert_string_equal(json_string_value(json_object_get(session, "state")), "running");
        mtt_proto_reply_done(&r);

        /* Four new levels, each waited for on the watcher: the session makes rows beyond its
         * first however slow the machine is. */
        char *seen[4096];
        size_t n_seen = 0;
        bool ended = false;
        for (int level = 1; level <= 4; level++) {
                long long extra_mib = 100 * level;
                assert_int_equal(harness_write_meminfo(meminfo, (1000 + extra_mib) * MIB), 0);
                bool reached = false;
                while (!reached) {
                        assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
                        assert_null(r.error);
                        assert_true(r.continues);
                        json_t *p = r.parameters;
                        assert_int_equal(json_integer_value(json_object_get(p, "id")), id);
                        assert_true(n_seen < 4096);
                        seen[n_seen++] = row_text(p);
                        double gib = json_number_value(json_object_get(p, "ram"));
                        reached = fabs(gib - extra_mib / 1024.0) < 0.001;
                        mtt_proto_reply_done(&r);
                }
        }
        assert_int_equal(harness_write_meminfo(meminfo, 1000 * MIB), 0);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        while (!ended) {
                assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
                assert_null(r.error);
                ended = !r.continues;
                if (ended)
                        break;
                assert_int_equal(json_integer_value(json_object_get(r.parameters, "id")), id);
                assert_true(n_seen < 4096);
                seen[n_seen++] = row_text(r.parameters);
                mtt_proto_reply_done(&r);
        }
        session = json_object_get(r.parameters, "session");
        assert_string_equal(json_string_value(json_object_get(session, "state")), "completed");
        size_t total_rows = (size_t)json_integer_value(json_object_get(session, "rows"));
        mtt_proto_reply_done(&r);
        mtt_proto_conn_close(&w);

        char *text = harness_read_file(path);
        char *rows[4096];
        size_t n = report_rows(text, rows, 4096);
        assert_int_equal(n, total_rows);
        print_message("%zu rows watched, %zu in the report\n", n_seen, n);
        /* Only rows made before the Watch came are missing (the first, mostly). */
        assert_true(n_seen >= 4);
        assert_true(n_seen * 2 >= n);
        assert_true(n_seen <= n);
        for (size_t i = 0; i < n_seen; i++) {
                assert_string_equal(seen[i], rows[n - n_seen + i]);
                free(seen[i]);
        }
        free(text);
}

static void test_watch_errors(void **state)
{
        /* A Watch without "more" is refused, as varlink says. */
        int fd = harness_connect(&H);
        json_t *r = harness_call(fd, MTT_PROTO_METHOD_WATCH, "{\"id\":1}", NULL, 0);
        assert_string_equal(harness_error(r), MTT_PROTO_ERROR_EXPECTED_MORE);
        json_decref(r);
        static const char unknown[] =
            "{\"method\":\"io.mtt.Tracker.Watch\",\"parameters\":{\"id\":999999},\"more\":true}";
        r = harness_raw(fd, unknown, sizeof(unknown), NULL, 0);
        assert_string_equal(harness_error(r), MTT_PROTO_ERROR_NO_SUCH_SESSION);
        json_decref(r);
        static const char bad[] =
            "{\"method\":\"io.mtt.Tracker.Watch\",\"parameters\":{\"id\":\"x\"},\"more\":true}";
        r = harness_raw(fd, bad, sizeof(bad), NULL, 0);
        assert_string_equal(harness_error(r), MTT_PROTO_ERROR_VARLINK_PARAMETER);
        json_decref(r);
        close(fd);

        /* A session already finished: its whole story in one last reply. */
        char path[256];
        mtt_session *s = harness_open(&H, "ended", path, sizeof(path));
        assert_non_null(s);
        uint64_t id = mtt_session_id(s);
        assert_int_equal(mtt_close(s, MTT_FAILED), 0);
        mtt_proto_conn w;
        mtt_proto_reply first;
        watch(&w, (long long)id, &first);
        assert_null(first.error);
        assert_false(first.continues);
        json_t *session = json_object_get(first.parameters, "session");
        assert_string_equal(json_string_value(json_object_get(session, "state")), "failed");
        mtt_proto_reply_done(&first);
        /* The connection serves calls again. */
        mtt_proto_reply list;
        assert_int_equal(mtt_proto_conn_call(&w, MTT_PROTO_METHOD_LIST, NULL, NULL, 0, 5000, &list),
                         0);
        assert_null(list.error);
        mtt_proto_reply_done(&list);
        mtt_proto_conn_close(&w);
}

/* Another call on a watching connection ends the stream and is answered. */
static void test_a_call_ends_the_watch(void **state)
{
        char path[256];
        mtt_session *s = harness_open(&H, "interrupted", path, sizeof(path));
        assert_non_null(s);
        mtt_proto_conn w;
        mtt_proto_reply r;
        watch(&w, (long long)mtt_session_id(s), &r);
        mtt_proto_reply_done(&r);
        json_t *list = mtt_proto_call_new(MTT_PROTO_METHOD_LIST, NULL, false, false);
        assert_int_equal(mtt_proto_conn_send(&w, list, NULL, 0), 0);
        json_decref(list);
        bool listed = false;
        while (!listed) { /* rows sent before the call may come first */
                assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
                assert_null(r.error);
                listed = json_object_get(r.parameters, "sessions") != NULL;
                mtt_proto_reply_done(&r);
        }
        mtt_proto_conn_close(&w);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
}

/* Watch() follows sessions opened after it: each one's opening, rows and end. */
static void test_watch_every_session(void **state)
{
        mtt_proto_conn w;
        mtt_proto_reply r;
        watch(&w, -1, &r);
        assert_null(r.error);
        assert_true(r.continues);
        assert_true(json_is_array(json_object_get(r.parameters, "sessions")));
        mtt_proto_reply_done(&r);

        char path[256];
        mtt_session *s = harness_open(&H, "every", path, sizeof(path));
        assert_non_null(s);
        json_int_t id = (json_int_t)mtt_session_id(s);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);

        bool opened = false, ended = false;
        int rows = 0;
        while (!ended) {
                assert_int_equal(mtt_proto_conn_recv(&w, 5000, &r), 0);
                assert_null(r.error);
                assert_true(r.continues); /* this stream has no end */
                json_t *session = json_object_get(r.parameters, "session");
                if (session && json_integer_value(json_object_get(session, "id")) == id) {
                        const char *st = json_string_value(json_object_get(session, "state"));
                        if (!opened) {
                                assert_string_equal(st, "running");
                                assert_int_equal(rows, 0);
                                opened = true;
                        } else {
                                assert_string_equal(st, "completed");
                                ended = true;
                        }
                } else if (json_integer_value(json_object_get(r.parameters, "id")) == id) {
                        assert_true(opened);
                        rows++;
                }
                mtt_proto_reply_done(&r);
        }
        /* The row at delta 0 and the one at Close at least. */
        assert_true(rows >= 2);
        mtt_proto_conn_close(&w);
}

/* SPEC 8: a watcher that never reads costs a bounded buffer and is then dropped; the
 * sessions it watched, and everybody else, go on at full speed. */
static void test_watcher_that_never_reads(void **state)
{
        mtt_proto_conn w;
        mtt_proto_reply r;
        watch(&w, -1, &r);
        mtt_proto_reply_done(&r);

        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        for (int i = 0; i < 1500; i++) {
                mtt_options o = {.socket_path = H.socket, .label = "busy", .timeout_ms = 5000};
                mtt_session *s;
                assert_int_equal(mtt_open_fd(null, &o, &s), 0);
                assert_int_equal(mtt_close(s, i % 2 ? MTT_COMPLETED : MTT_FAILED), 0);
        }
        close(null);
        assert_true(harness_closed_within(w.fd, 5000));
        mtt_proto_conn_close(&w);

        char *log = harness_read_file(H.log);
        assert_non_null(strstr(log, "dropping client"));
        free(log);
        assert_true(harness_session_completes(&H, "after"));
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rows_equal_the_report),
            cmocka_unit_test(test_watch_errors),
            cmocka_unit_test(test_a_call_ends_the_watch),
            cmocka_unit_test(test_watch_every_session),
            cmocka_unit_test(test_watcher_that_never_reads),
        };
        return harness_finish(&H, cmocka_run_group_tests(tests, start, stop));
}

/* Integration: a real mttd on a temporary socket, driven through libmtt-client and raw
 * varlink: the three endings, a SIGKILLed client, refused fds, hostile and odd input,
 * ownership across uids, and SIGTERM flushing live sessions. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"
#include "proto/connection.h"
#include "proto/frame.h"
#include "proto/interface.h"

static harness H;

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int start(void **state)
{
        return harness_start(&H, NULL);
}

static mtt_options opts(const char *label)
{
        return (mtt_options){.socket_path = H.socket, .label = label};
}

static json_t *status_of(uint64_t id)
{
        int fd = harness_connect(&H);
        assert_true(fd >= 0);
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)id);
        json_t *r = harness_call(fd, "io.mtt.Tracker.Status", params, NULL, 0);
        close(fd);
        assert_non_null(r);
        assert_null(harness_error(r));
        return r;
}

static const char *session_str(json_t *reply, const char *key)
{
        return json_string_value(
            json_object_get(json_object_get(json_object_get(reply, "parameters"), "session"), key));
}

static double session_num(json_t *reply, const char *key)
{
        return json_number_value(
            json_object_get(json_object_get(json_object_get(reply, "parameters"), "session"), key));
}

/* The Status reply of a session once it is no longer running (up to 2 s). */
static json_t *status_when_ended(uint64_t id)
{
        for (int i = 0; i < 200; i++) {
                json_t *st = status_of(id);
                if (strcmp(session_str(st, "state"), "running") != 0)
                        return st;
                json_decref(st);
                usleep(10000);
        }
        fail_msg("session %llu still runs", (unsigned long long)id);
        return NULL;
}

/* Opens a session, lets it run a little, closes it with the outcome, checks the file. */
static void run_api_session(mtt_outcome outcome, const char *cause, harness_ending ending,
                            mtt_report_verdict verdict, const char *state)
{
        char path[256];
        harness_path(&H, "api.csv", path, sizeof(path));
        mtt_options o = opts("api");
        mtt_session *s = NULL;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        uint64_t id = mtt_session_id(s);
        assert_true(id > 0);
        usleep(30000);
        assert_int_equal(mtt_close_with_cause(s, outcome, cause), 0);

        /* Close returns once the report is written and synced: read it at once. */
        char *text = harness_read_file(path);
        int rows;
        const char *why = harness_check_report(text, ending, &rows);
        if (why)
                fail_msg("%s in:\n%s", why, text);
        assert_true(rows >= 2); /* the row at delta 0 and the one at Close */
        assert_true(strncmp(text, "delta,ram\n0.000000,", 19) == 0);
        free(text);

        mtt_report_verdict v;
        assert_int_equal(mtt_report_verdict_of(path, &v), 0);
        assert_int_equal(v, verdict);
        assert_int_equal(mtt_has_completed_successfully(path), verdict == MTT_REPORT_COMPLETED);
        assert_int_equal(mtt_has_crashed_gracefully(path),
                         verdict == MTT_REPORT_CRASHED_GRACEFULLY);
        assert_int_equal(mtt_has_crashed_ungracefully(path),
                         verdict == MTT_REPORT_CRASHED_UNGRACEFULLY);

        json_t *st = status_of(id);
        assert_string_equal(session_str(st, "state"), state);
        assert_string_equal(session_str(st, "label"), "api");
        assert_int_equal((int)session_num(st, "pid"), getpid());
        assert_int_equal((int)session_num(st, "uid"), (int)getuid());
        assert_true(session_num(st, "elapsed") >= 0.03);
        if (cause)
                assert_string_equal(session_str(st, "cause"), cause);
        json_decref(st);
}

static void test_completed(void **state)
{
        run_api_session(MTT_COMPLETED, NULL, ENDING_COMPLETED, MTT_REPORT_COMPLETED, "completed");
}

static void test_failed(void **state)
{
        run_api_session(MTT_FAILED, NULL, ENDING_FAILED, MTT_REPORT_CRASHED_GRACEFULLY, "failed");
}

static void test_crashed_by_supervisor(void **state)
{
        run_api_session(MTT_CRASHED, "killed by SIGSEGV", ENDING_NONE,
                        MTT_REPORT_CRASHED_UNGRACEFULLY, "crashed");
}

/* A client killed mid-session leaves whole lines, no ending, and a crashed session whose
 * last row is the moment the hangup was seen. */
static void test_sigkilled_client(void **state)
{
        char path[256];
        harness_path(&H, "killed.csv", path, sizeof(path));
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        if (pid == 0) {
                mtt_options o = opts("victim");
                mtt_session *s;
                uint64_t id = 0;
                if (mtt_open(path, &o, &s) == 0)
                        id = mtt_session_id(s);
                (void)!write(pfd[1], &id, sizeof(id));
                for (;;)
                        pause();
        }
        close(pfd[1]);
        uint64_t id = 0;
        assert_int_equal(read(pfd[0], &id, sizeof(id)), sizeof(id));
        close(pfd[0]);
        assert_true(id > 0);
        usleep(150000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);

        json_t *st = status_when_ended(id);
        assert_string_equal(session_str(st, "state"), "crashed");
        assert_non_null(session_str(st, "cause"));
        double elapsed = session_num(st, "elapsed");
        json_decref(st);

        /* The session is over once the state says so, but its last write may still be in
         * flight: wait for the last row, at the session's end, to be in the file. */
        char *text = NULL;
        for (int i = 0; i < 100; i++) {
                free(text);
                text = harness_read_file(path);
                if (fabs(harness_last_delta(text) - elapsed) < 1e-6)
                        break;
                usleep(10000);
        }
        int rows;
        const char *why = harness_check_report(text, ENDING_NONE, &rows);
        if (why)
                fail_msg("%s in:\n%s", why, text);
        /* The last data row is the hangup's, at the session's end. */
        assert_true(fabs(harness_last_delta(text) - elapsed) < 1e-6);
        assert_true(elapsed >= 0.15);
        free(text);
        assert_true(mtt_has_crashed_ungracefully(path));
}

/* SPEC 8: a read-only fd, a directory, a socket and a procfs file are refused; the connection and
 * the daemon go on. */
static void test_invalid_fds(void **state)
{
        char path[256];
        harness_path(&H, "ro.csv", path, sizeof(path));
        int ro = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
        int dir = open(H.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int sp[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
        /* A writable procfs file is a regular file no user keeps (SPEC 8): a write to
         * /proc/self/mem lands in this process's memory, and may wait on anything mapped
         * there. */
        int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        mtt_options o = opts("bad fd");
        mtt_session *s = NULL;
        int bad[] = {ro, dir, sp[0], mem};
        for (size_t i = 0; i < 4; i++) {
                assert_true(bad[i] >= 0);
                assert_int_equal(mtt_open_fd(bad[i], &o, &s), -EBADF);
                assert_null(s);
        }

        /* The same on one raw connection, which stays usable after each refusal. */
        int fd = harness_connect(&H);
        for (size_t i = 0; i < 4; i++) {
                json_t *r = harness_call(fd, "io.mtt.Tracker.Open", "{\"fd\":0}", &bad[i], 1);
                assert_non_null(r);
                assert_string_equal(harness_error(r), "io.mtt.Tracker.InvalidFileDescriptor");
                json_decref(r);
        }
        json_t *r = harness_call(fd, "io.mtt.Tracker.Open", "{\"fd\":0}", NULL, 0);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.InvalidFileDescriptor");
        json_decref(r);
        r = harness_call(fd, "io.mtt.Tracker.List", NULL, NULL, 0);
        assert_null(harness_error(r));
        json_decref(r);
        close(fd);
        close(ro);
        close(dir);
        close(mem);
        close(sp[0]);
        close(sp[1]);
        test_completed(state);
}

/* Open's truncate: an existing report, opened without O_TRUNC (longer than the new one), is
 * emptied once the session is open, and the new report is all the file has; a pipe takes it
 * too (nothing to empty). Without truncate the file is written from its start, as given. */
static void test_truncate(void **state)
{
        char path[256], old[8192];
        harness_path(&H, "old.csv", path, sizeof(path));
        memset(old, 'x', sizeof(old));
        for (size_t i = 63; i < sizeof(old); i += 64)
                old[i] = '\n';
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_int_equal(write(fd, old, sizeof(old)), (ssize_t)sizeof(old));
        close(fd);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        int conn = harness_connect(&H);
        json_t *r =
            harness_call(conn, "io.mtt.Tracker.Open", "{\"fd\": 0, \"truncate\": true}", &fd, 1);
        close(fd);
        assert_null(harness_error(r));
        json_int_t id = json_integer_value(
            json_object_get(json_object_get(json_object_get(r, "parameters"), "session"), "id"));
        json_decref(r);
        char close_params[96];
        snprintf(close_params, sizeof(close_params), "{\"id\": %lld, \"outcome\": \"completed\"}",
                 (long long)id);
        r = harness_call(conn, "io.mtt.Tracker.Close", close_params, NULL, 0);
        assert_null(harness_error(r));
        json_decref(r);
        close(conn);
        char *text = harness_read_file(path);
        assert_non_null(text);
        int rows;
        const char *why = harness_check_report(text, ENDING_COMPLETED, &rows);
        if (why || strchr(text, 'x'))
                fail_msg("%s in:\n%s", why ? why : "the old text is left", text);
        free(text);

        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        conn = harness_connect(&H);
        r = harness_call(conn, "io.mtt.Tracker.Open", "{\"fd\": 0, \"truncate\": true}", &p[1], 1);
        close(p[1]);
        assert_null(harness_error(r));
        json_decref(r);
        char head[10];
        assert_int_equal(read(p[0], head, sizeof(head)), (ssize_t)sizeof(head));
        assert_memory_equal(head, "delta,ram\n", sizeof(head));
        close(conn);
        close(p[0]);
}

/* Empty parameters may be missing, null or {}; unknown methods and fields are named. */
static void test_protocol_calls(void **state)
{
        int fd = harness_connect(&H);
        static const char *const lists[] = {
            "{\"method\":\"io.mtt.Tracker.List\"}",
            "{\"method\":\"io.mtt.Tracker.List\",\"parameters\":null}",
            "{\"method\":\"io.mtt.Tracker.List\",\"parameters\":{}}",
        };
        for (size_t i = 0; i < 3; i++) {
                json_t *r = harness_raw(fd, lists[i], strlen(lists[i]) + 1, NULL, 0);
                assert_non_null(r);
                assert_null(harness_error(r));
                assert_true(
                    json_is_array(json_object_get(json_object_get(r, "parameters"), "sessions")));
                json_decref(r);
        }
        json_t *r = harness_call(fd, "io.mtt.Tracker.List", "{\"bogus\":1}", NULL, 0);
        assert_string_equal(harness_error(r), "org.varlink.service.InvalidParameter");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r, "parameters"), "parameter")),
            "bogus");
        json_decref(r);

        r = harness_call(fd, "io.mtt.Tracker.Teleport", NULL, NULL, 0);
        assert_string_equal(harness_error(r), "org.varlink.service.MethodNotFound");
        json_decref(r);

        r = harness_call(fd, "io.mtt.Tracker.Status", "{\"id\":\"one\"}", NULL, 0);
        assert_string_equal(harness_error(r), "org.varlink.service.InvalidParameter");
        json_decref(r);

        r = harness_call(fd, "io.mtt.Tracker.Status", "{\"id\":987654}", NULL, 0);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.NoSuchSession");
        json_decref(r);

        r = harness_call(fd, "io.mtt.Tracker.Close", "{\"id\":1,\"outcome\":\"exploded\"}", NULL,
                         0);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.InvalidParameter");
        json_decref(r);

        r = harness_call(fd, "org.varlink.service.GetInfo", NULL, NULL, 0);
        assert_null(harness_error(r));
        json_t *ifaces = json_object_get(json_object_get(r, "parameters"), "interfaces");
        assert_int_equal(json_array_size(ifaces), 2);
        json_decref(r);

        r = harness_call(fd, "org.varlink.service.GetInterfaceDescription",
                         "{\"interface\":\"io.mtt.Tracker\"}", NULL, 0);
        const char *desc =
            json_string_value(json_object_get(json_object_get(r, "parameters"), "description"));
        assert_non_null(desc);
        assert_non_null(strstr(desc, "interface io.mtt.Tracker"));
        assert_non_null(strstr(desc, "method Open("));
        json_decref(r);

        r = harness_call(fd, "org.varlink.service.GetInterfaceDescription",
                         "{\"interface\":\"com.example.Nope\"}", NULL, 0);
        assert_string_equal(harness_error(r), "org.varlink.service.InterfaceNotFound");
        json_decref(r);

        r = harness_call(fd, "io.mtt.Tracker.Sample", NULL, NULL, 0);
        json_t *reading = json_object_get(json_object_get(r, "parameters"), "reading");
        assert_true(json_integer_value(json_object_get(reading, "mem_total_kb")) > 0);
        assert_true(json_number_value(json_object_get(reading, "used")) > 0);
        json_decref(r);
        close(fd);
}

static bool peer_closed(int fd)
{
        char c;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        /* A close with unread input resets the connection instead of ending it. */
        ssize_t n = recv(fd, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Split and coalesced writes work; junk and oversized frames get an error and a closed
 * connection; the daemon serves the next client. */
static void test_protocol_framing(void **state)
{
        const char call[] = "{\"method\":\"io.mtt.Tracker.List\"}";
        int fd = harness_connect(&H);
        for (size_t i = 0; i < sizeof(call) - 1; i++) {
                assert_int_equal(write(fd, call + i, 1), 1);
                usleep(200);
        }
        json_t *r = harness_raw(fd, "", 1, NULL, 0); /* the final NUL */
        assert_non_null(r);
        assert_null(harness_error(r));
        json_decref(r);

        /* Two calls in one write: two replies. */
        char two[2 * sizeof(call)];
        memcpy(two, call, sizeof(call));
        memcpy(two + sizeof(call), call, sizeof(call));
        assert_int_equal(write(fd, two, sizeof(two)), sizeof(two));
        char buf[65536];
        size_t have = 0;
        int nuls = 0;
        while (nuls < 2) {
                ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
                assert_true(n > 0);
                for (ssize_t i = 0; i < n; i++)
                        nuls += buf[have + (size_t)i] == '\0';
                have += (size_t)n;
        }
        close(fd);

        fd = harness_connect(&H);
        r = harness_raw(fd, "this is not json", 17, NULL, 0);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.ProtocolError");
        json_decref(r);
        assert_true(peer_closed(fd));
        close(fd);

        fd = harness_connect(&H);
        size_t big = 100 * 1024;
        char *huge = malloc(big);
        memset(huge, ' ', big);
        huge[0] = '{';
        huge[big - 2] = '}';
        huge[big - 1] = '\0';
        r = harness_raw(fd, huge, big, NULL, 0);
        free(huge);
        assert_non_null(r);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.ProtocolError");
        json_decref(r);
        assert_true(peer_closed(fd));
        close(fd);

        test_completed(state);
}

/* SPEC 8: another uid may not Close or Status a session, nor see it in List. */
static void test_other_uid(void **state)
{
        if (geteuid() != 0) {
                print_message("skipped: the second-uid test needs root to become nobody\n");
                skip();
        }
        char path[256];
        harness_path(&H, "root.csv", path, sizeof(path));
        mtt_options o = opts("root's");
        o.job = "root-secret-job";
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        uint64_t id = mtt_session_id(s);

        pid_t pid = fork();
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                int fd = harness_connect(&H);
                if (fd < 0)
                        _exit(11);
                char params[96];
                snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)id);
                json_t *r = harness_call(fd, "io.mtt.Tracker.Status", params, NULL, 0);
                if (!r || !harness_error(r) ||
                    strcmp(harness_error(r), "io.mtt.Tracker.PermissionDenied") != 0)
                        _exit(12);
                snprintf(params, sizeof(params), "{\"id\":%llu,\"outcome\":\"failed\"}",
                         (unsigned long long)id);
                r = harness_call(fd, "io.mtt.Tracker.Close", params, NULL, 0);
                if (!r || !harness_error(r) ||
                    strcmp(harness_error(r), "io.mtt.Tracker.PermissionDenied") != 0)
                        _exit(13);
                char watch[160];
                int len = snprintf(watch, sizeof(watch),
                                   "{\"method\":\"io.mtt.Tracker.Watch\",\"parameters\":"
                                   "{\"id\":%llu},\"more\":true}",
                                   (unsigned long long)id);
                r = harness_raw(fd, watch, (size_t)len + 1, NULL, 0);
                if (!r || !harness_error(r) ||
                    strcmp(harness_error(r), "io.mtt.Tracker.PermissionDenied") != 0)
                        _exit(18);
                /* Watching every session shows nobody none of root's. */
                static const char all[] = "{\"method\":\"io.mtt.Tracker.Watch\",\"more\":true}";
                int wfd = harness_connect(&H);
                r = harness_raw(wfd, all, sizeof(all), NULL, 0);
                if (!r || harness_error(r) ||
                    json_array_size(
                        json_object_get(json_object_get(r, "parameters"), "sessions")) != 0)
                        _exit(19);
                close(wfd);
                json_decref(r);
                /* nobody's own session, into a pipe, is the only one it sees. */
                int p[2];
                if (pipe(p) < 0)
                        _exit(14);
                r = harness_call(fd, "io.mtt.Tracker.Open", "{\"fd\":0,\"label\":\"nobody's\"}",
                                 &p[1], 1);
                if (!r || harness_error(r))
                        _exit(15);
                r = harness_call(fd, "io.mtt.Tracker.List", NULL, NULL, 0);
                /* Not root's label nor its job, not even in the overlap list of nobody's
                 * own session (which ran beside root's). */
                char *text = json_dumps(r, 0);
                if (!text || strstr(text, "root-secret-job") || strstr(text, "root's"))
                        _exit(20);
                free(text);
                json_t *list = json_object_get(json_object_get(r, "parameters"), "sessions");
                size_t i;
                json_t *e;
                size_t own = 0;
                json_array_foreach(list, i, e)
                {
                        if (json_integer_value(json_object_get(e, "uid")) != 65534)
                                _exit(16);
                        own++;
                }
                _exit(own == 1 ? 0 : 17);
        }
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        /* Root sees both users' sessions, and its own is untouched. */
        int fd = harness_connect(&H);
        json_t *r = harness_call(fd, "io.mtt.Tracker.List", NULL, NULL, 0);
        json_t *list = json_object_get(json_object_get(r, "parameters"), "sessions");
        bool saw_root = false, saw_nobody = false;
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
        {
                saw_root |= json_integer_value(json_object_get(e, "id")) == (json_int_t)id &&
                            strcmp(json_string_value(json_object_get(e, "state")), "running") == 0;
                saw_nobody |= json_integer_value(json_object_get(e, "uid")) == 65534;
        }
        json_decref(r);
        close(fd);
        assert_true(saw_root);
        assert_true(saw_nobody);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        assert_true(mtt_has_completed_successfully(path));
}

/* Opens a session with o into job.csv, and returns its Status reply, closed. */
static json_t *job_session(mtt_options *o)
{
        char path[256];
        harness_path(&H, "job.csv", path, sizeof(path));
        mtt_session *s;
        assert_int_equal(mtt_open(path, o, &s), 0);
        json_t *st = status_of(mtt_session_id(s));
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        return st;
}

/* The job List shows for session id, or NULL. */
static char *listed_job(uint64_t id)
{
        int fd = harness_connect(&H);
        json_t *r = harness_call(fd, "io.mtt.Tracker.List", NULL, NULL, 0);
        close(fd);
        assert_non_null(r);
        char *job = NULL;
        bool found = false;
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(json_object_get(r, "parameters"), "sessions"), i, e)
        {
                if (json_integer_value(json_object_get(e, "id")) != (json_int_t)id)
                        continue;
                found = true;
                const char *j = json_string_value(json_object_get(e, "job"));
                job = j ? strdup(j) : NULL;
        }
        json_decref(r);
        assert_true(found);
        return job;
}

static const char *const job_vars[] = {
    "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
    "PBS_JOBID",    "LSB_JOBID",          "LSB_JOBINDEX",
    "JOB_ID",       "SGE_TASK_ID",
};

static void unset_job_vars(void)
{
        for (size_t i = 0; i < sizeof(job_vars) / sizeof(job_vars[0]); i++)
                unsetenv(job_vars[i]);
}

/* A session carries the workload manager's job it ran in: from the environment by
 * default (Status and List show it), the caller's when it names one, none for "". */
static void test_job_from_the_environment(void **state)
{
        unset_job_vars();
        mtt_options o = opts("job");
        json_t *st = job_session(&o);
        assert_null(session_str(st, "job"));
        json_decref(st);

        setenv("SLURM_JOB_ID", "4242", 1);
        setenv("PBS_JOBID", "99.pbs", 1);
        st = job_session(&o);
        assert_string_equal(session_str(st, "job"), "4242");
        char *listed = listed_job((uint64_t)session_num(st, "id"));
        assert_non_null(listed);
        assert_string_equal(listed, "4242");
        free(listed);
        json_decref(st);

        setenv("SLURM_ARRAY_JOB_ID", "4200", 1);
        setenv("SLURM_ARRAY_TASK_ID", "7", 1);
        st = job_session(&o);
        assert_string_equal(session_str(st, "job"), "4200_7");
        json_decref(st);

        /* A value no job can be is passed over, never an error. */
        unset_job_vars();
        setenv("SLURM_JOB_ID", "42\n42", 1);
        setenv("LSB_JOBID", "77", 1);
        setenv("LSB_JOBINDEX", "3", 1);
        st = job_session(&o);
        assert_string_equal(session_str(st, "job"), "77[3]");
        json_decref(st);

        o.job = "explicit-1"; /* the caller's wins */
        st = job_session(&o);
        assert_string_equal(session_str(st, "job"), "explicit-1");
        json_decref(st);

        o.job = ""; /* none, whatever the environment says */
        st = job_session(&o);
        assert_null(session_str(st, "job"));
        assert_null(listed_job((uint64_t)session_num(st, "id")));
        json_decref(st);
        unset_job_vars();
}

/* A job that is too long, has a control character or is not UTF-8 is refused: by the
 * library before it touches the report, and by mttd as InvalidParameter "job". */
static void test_job_refused(void **state)
{
        char path[256], long_job[MTT_PROTO_JOB_MAX + 2];
        memset(long_job, 'j', MTT_PROTO_JOB_MAX + 1);
        long_job[MTT_PROTO_JOB_MAX + 1] = '\0';
        harness_path(&H, "refused-job.csv", path, sizeof(path));
        const char *const bad[] = {long_job, "a\tb", "del\x7f", "\xff"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mtt_options o = opts("refused");
                o.job = bad[i];
                mtt_session *s;
                assert_int_equal(mtt_open(path, &o, &s), -EINVAL);
                assert_int_equal(access(path, F_OK), -1);
        }

        int c = harness_connect(&H);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        char params[MTT_PROTO_JOB_MAX + 64];
        const char *const refused[] = {long_job, "a\\u0001b", "a\\nb", "\\u007f"};
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                snprintf(params, sizeof(params), "{\"fd\":0,\"job\":\"%s\"}", refused[i]);
                json_t *r = harness_call(c, "io.mtt.Tracker.Open", params, &null, 1);
                assert_string_equal(harness_error(r), "io.mtt.Tracker.InvalidParameter");
                assert_string_equal(json_string_value(json_object_get(
                                        json_object_get(r, "parameters"), "parameter")),
                                    "job");
                json_decref(r);
        }
        long_job[MTT_PROTO_JOB_MAX] = '\0'; /* at the limit: taken */
        snprintf(params, sizeof(params), "{\"fd\":0,\"job\":\"%s\"}", long_job);
        json_t *r = harness_call(c, "io.mtt.Tracker.Open", params, &null, 1);
        assert_null(harness_error(r));
        assert_string_equal(session_str(r, "job"), long_job);
        json_decref(r);
        r = harness_call(c, "io.mtt.Tracker.Open", "{\"fd\":0,\"job\":\"\"}", &null, 1);
        assert_null(harness_error(r));
        assert_null(session_str(r, "job")); /* empty: none */
        json_decref(r);
        close(null);
        close(c);
}

/* SIGTERM flushes and syncs live sessions' rows, then mttd exits 0. */
static void test_sigterm_flushes(void **state)
{
        harness h2;
        assert_int_equal(harness_start(&h2, NULL), 0);
        char path[256];
        harness_path(&h2, "live.csv", path, sizeof(path));
        mtt_options o = {.socket_path = h2.socket, .label = "live"};
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        usleep(200000);
        assert_int_equal(harness_stop(&h2, false), 0);
        char *text = harness_read_file(path);
        int rows;
        const char *why = harness_check_report(text, ENDING_NONE, &rows);
        if (why)
                fail_msg("%s in:\n%s", why, text);
        assert_true(harness_last_delta(text) >= 0.2);
        free(text);
        /* The daemon is gone: Close fails cleanly and still frees the session. */
        assert_true(mtt_close(s, MTT_COMPLETED) < 0);
        harness_stop(&h2, true);
}

static void test_no_daemon(void **state)
{
        char path[256];
        harness_path(&H, "nodaemon.csv", path, sizeof(path));
        mtt_options o = {.socket_path = "/nonexistent/mtt.sock"};
        mtt_session *s = NULL;
        assert_int_equal(mtt_open(path, &o, &s), -ENOENT);
        assert_null(s);
        mtt_report_verdict v;
        assert_int_equal(mtt_report_verdict_of("/nonexistent/report.csv", &v), -ENOENT);
}

/* A pipe whose buffer is full: a write into it blocks until someone reads. */
static bool readable_within(int fd, int ms)
{
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        return poll(&pfd, 1, ms) > 0;
}

static json_t *open_on(int conn, int fd, const char *label)
{
        char params[128];
        snprintf(params, sizeof(params), "{\"fd\":0,\"label\":\"%s\"}", label);
        json_t *r = harness_call(conn, "io.mtt.Tracker.Open", params, &fd, 1);
        assert_non_null(r);
        assert_null(harness_error(r));
        return r;
}

static void send_close(int conn, uint64_t id, const char *outcome)
{
        char msg[160];
        int n = snprintf(msg, sizeof(msg),
                         "{\"method\":\"io.mtt.Tracker.Close\",\"parameters\":{\"id\":%llu,"
                         "\"outcome\":\"%s\"}}",
                         (unsigned long long)id, outcome);
        assert_int_equal(mtt_proto_send_all(conn, msg, (size_t)n + 1, NULL, 0), 0);
}

/* SPEC 9: a report nobody reads stalls its own writes only. Two Closes of it both wait for
 * its report, other sessions go on meanwhile, and all is written once the reader reads. */
/* SIGTERM with a report that stalls: local reports are all flushed, mttd waits for the
 * stalled one only until --stop-timeout-s, then exits 0. */
static void test_sigterm_with_a_stalled_report(void **state)
{
        enum { LOCAL = 50 };
        static const char *const args[] = {"--stop-timeout-s", "1", NULL};
        harness h2;
        assert_int_equal(harness_start(&h2, args), 0);
        int p[2];
        assert_int_equal(harness_full_pipe(p), 0);
        mtt_options o = {.socket_path = h2.socket, .label = "stalled"};
        mtt_session *stalled, *local[LOCAL];
        assert_int_equal(mtt_open_fd(p[1], &o, &stalled), 0);
        char path[LOCAL][256];
        for (int i = 0; i < LOCAL; i++) {
                char name[32];
                snprintf(name, sizeof(name), "local%d.csv", i);
                harness_path(&h2, name, path[i], sizeof(path[i]));
                o.label = name;
                assert_int_equal(mtt_open(path[i], &o, &local[i]), 0);
        }
        usleep(1200000); /* the stalled report's first write is under way */
        uint64_t t0 = now_ms();
        assert_int_equal(harness_stop(&h2, false), 0);
        uint64_t took = now_ms() - t0;
        print_message("SIGTERM to exit: %llu ms\n", (unsigned long long)took);
        assert_true(took >= 900);
        assert_true(took < 4000);
        for (int i = 0; i < LOCAL; i++) {
                char *text = harness_read_file(path[i]);
                int rows;
                const char *why = harness_check_report(text, ENDING_NONE, &rows);
                if (why)
                        fail_msg("%s in %s:\n%s", why, path[i], text);
                assert_true(harness_last_delta(text) >= 1.2);
                free(text);
                mtt_close(local[i], MTT_COMPLETED);
        }
        mtt_close(stalled, MTT_COMPLETED);
        close(p[0]);
        close(p[1]);
        harness_stop(&h2, true);
}

static void test_stalled_report(void **state)
{
        int p[2];
        assert_int_equal(harness_full_pipe(p), 0);
        int a = harness_connect(&H), b = harness_connect(&H);
        json_t *r = open_on(a, p[1], "stalled");
        uint64_t id = (uint64_t)session_num(r, "id");
        json_decref(r);
        /* More stalled reports than mttd has writer threads at first. */
        enum { MORE = 20 };
        int more[MORE][2];
        int c = harness_connect(&H);
        for (int i = 0; i < MORE; i++) {
                assert_int_equal(harness_full_pipe(more[i]), 0);
                json_decref(open_on(c, more[i][1], "stalled too"));
        }
        usleep(1000000); /* past a flush: writer threads are now blocked on the pipes */

        /* Other sessions' reports are written meanwhile, without waiting for those. */
        char path[256];
        harness_path(&H, "beside.csv", path, sizeof(path));
        mtt_options o = opts("beside");
        o.timeout_ms = 1500;
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        usleep(20000);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        assert_true(mtt_has_completed_successfully(path));

        send_close(a, id, "completed");
        usleep(50000); /* so that a's Close is the first */
        send_close(b, id, "failed");
        /* Neither reply can come while the report's last write cannot be done. */
        assert_false(readable_within(a, 300));
        assert_false(readable_within(b, 0));

        /* Read the pipe to its end: the daemon's last job writes, syncs and closes. */
        close(p[1]);
        char *text = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&text, &size);
        char buf[4096];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof(buf))) > 0)
                fwrite(buf, 1, (size_t)n, m);
        fclose(m);
        close(p[0]);
        const char *report = strstr(text, "delta,ram\n");
        assert_non_null(report);
        int rows;
        const char *why = harness_check_report(report, ENDING_COMPLETED, &rows);
        if (why)
                fail_msg("%s in:\n%s", why, report);
        free(text);

        /* Both waiting Closes are answered; the first outcome stands. */
        json_t *ra = harness_raw(a, "", 0, NULL, 0), *rb = harness_raw(b, "", 0, NULL, 0);
        assert_non_null(ra);
        assert_non_null(rb);
        assert_string_equal(session_str(ra, "state"), "completed");
        assert_string_equal(session_str(rb, "state"), "completed");
        json_decref(ra);
        json_decref(rb);
        close(a);
        close(b);
        close(c);
        for (int i = 0; i < MORE; i++) {
                close(more[i][0]); /* their writes fail with EPIPE: those sessions end in error */
                close(more[i][1]);
        }
}

/* A client that hangs up while its Close waits is noticed at once: its other session crashes
 * then, not when the wait ends. */
static void test_hangup_while_waiting(void **state)
{
        int p[2];
        assert_int_equal(harness_full_pipe(p), 0);
        int a = harness_connect(&H);
        json_t *r = open_on(a, p[1], "stalled");
        uint64_t stalled = (uint64_t)session_num(r, "id");
        json_decref(r);
        char path[256];
        int fd = open(harness_path(&H, "other.csv", path, sizeof(path)),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        r = open_on(a, fd, "other");
        uint64_t other = (uint64_t)session_num(r, "id");
        json_decref(r);
        close(fd);
        usleep(700000);
        send_close(a, stalled, "completed");
        usleep(100000);
        close(a);

        json_t *st = status_when_ended(other);
        assert_string_equal(session_str(st, "state"), "crashed");
        json_decref(st);
        close(p[1]);
        close(p[0]); /* the stalled write fails with EPIPE: that session ends in error */
}

/* fds go with the call that takes them, however the calls were packed into reads. */
static void test_fds_with_coalesced_calls(void **state)
{
        char path[256];
        int fd = open(harness_path(&H, "packed.csv", path, sizeof(path)),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        static const char list[] = "{\"method\":\"io.mtt.Tracker.List\"}";
        static const char open_[] =
            "{\"method\":\"io.mtt.Tracker.Open\",\"parameters\":{\"fd\":0}}";
        char both[sizeof(list) + sizeof(open_)];
        /* List then Open in one sendmsg, and Open then List: Open gets the fd either way. */
        for (int order = 0; order < 2; order++) {
                const char *first = order ? open_ : list, *second = order ? list : open_;
                size_t n1 = strlen(first) + 1, n2 = strlen(second) + 1;
                memcpy(both, first, n1);
                memcpy(both + n1, second, n2);
                int c = harness_connect(&H);
                assert_int_equal(mtt_proto_send_all(c, both, n1 + n2, &fd, 1), 0);
                /* Both replies, however they arrive. */
                mtt_proto_inbuf in;
                mtt_proto_inbuf_init(&in, MTT_PROTO_MAX_REPLY);
                json_t *replies[2] = {NULL, NULL};
                for (int got = 0; got < 2;) {
                        mtt_proto_frame f;
                        if (mtt_proto_inbuf_next(&in, &f) == 0) {
                                replies[got++] = json_loadb(f.data, f.len, 0, NULL);
                                continue;
                        }
                        assert_true(readable_within(c, 5000));
                        assert_true(mtt_proto_inbuf_recv(&in, c) > 0);
                }
                mtt_proto_inbuf_free(&in);
                json_t *r1 = replies[0], *r2 = replies[1];
                assert_non_null(r1);
                assert_non_null(r2);
                assert_null(harness_error(r1));
                assert_null(harness_error(r2));
                close(c); /* the session crashes: that is fine here */
                json_decref(r1);
                json_decref(r2);
        }
        close(fd);
}

/* A full history of sessions with long labels: List replies of hundreds of kB arrive whole. */
static void test_large_list(void **state)
{
        char path[256], label[201];
        memset(label, 'x', 200);
        label[200] = '\0';
        harness_path(&H, "many.csv", path, sizeof(path));
        mtt_options o = opts(label);
        for (int i = 0; i < 300; i++) {
                mtt_session *s;
                assert_int_equal(mtt_open(path, &o, &s), 0);
                assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        }
        mtt_proto_conn c;
        assert_int_equal(mtt_proto_conn_open(&c, H.socket), 0);
        mtt_proto_reply reply;
        assert_int_equal(
            mtt_proto_conn_call(&c, "io.mtt.Tracker.List", NULL, NULL, 0, 5000, &reply), 0);
        assert_null(reply.error);
        size_t n = json_array_size(json_object_get(reply.parameters, "sessions"));
        assert_true(n >= 256);
        mtt_proto_reply_done(&reply);
        mtt_proto_conn_close(&c);
}

/* SPEC 9: a report that cannot be written (ENOSPC on /dev/full) ends its session in error
 * with the errno; Close says so; other sessions go on. */
static void test_write_error(void **state)
{
        int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
        assert_true(full >= 0);
        mtt_options o = opts("full");
        mtt_session *s;
        assert_int_equal(mtt_open_fd(full, &o, &s), 0);
        close(full);
        uint64_t id = mtt_session_id(s);
        json_t *st = status_when_ended(id);
        assert_string_equal(session_str(st, "state"), "error");
        assert_int_equal((int)session_num(st, "errno"), ENOSPC);
        assert_non_null(session_str(st, "error"));
        json_decref(st);
        test_completed(state);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), -ENOSPC);
}

/* calibrate=false: raw used GiB, no baseline. */
static void test_uncalibrated(void **state)
{
        char path[256];
        harness_path(&H, "raw.csv", path, sizeof(path));
        mtt_options o = opts("raw");
        o.calibrate = MTT_CALIBRATE_OFF;
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        json_t *st = status_of(mtt_session_id(s));
        assert_true(session_num(st, "baseline") == 0.0);
        assert_false(json_is_true(json_object_get(
            json_object_get(json_object_get(st, "parameters"), "session"), "calibrate")));
        json_decref(st);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        char *text = harness_read_file(path);
        /* The machine uses some memory: the first row is well above zero. */
        assert_true(strtod(strchr(text, '\n') + 1 + strlen("0.000000,"), NULL) > 0.001);
        free(text);
}

static void write_meminfo(const char *path, long long used_kb)
{
        assert_int_equal(harness_write_meminfo(path, used_kb), 0);
}

static double last_data_value(const char *text)
{
        /* The last line before an ending "0,0". */
        const char *end = strstr(text, "\n0,0\n");
        assert_non_null(end);
        const char *line = end;
        while (line > text && line[-1] != '\n')
                line--;
        return strtod(strchr(line, ',') + 1, NULL);
}

/* SPEC 3: the baseline is the mean of what mttd sampled before the session opened, taken
 * without waiting; calibrate=false gives raw used GiB; rows reach the file within 1 s. */
static void test_baseline_and_flush(void **state)
{
        char meminfo[] = "/tmp/mtt-meminfo-XXXXXX";
        assert_int_equal(harness_fake_meminfo(meminfo, 2 * 1048576LL), 0); /* 2 GiB used */
        const char *args[] = {"--meminfo", meminfo, NULL};
        harness h2;
        assert_int_equal(harness_start(&h2, args), 0);
        usleep(1200000); /* the idle ring gets a few samples of the 2 GiB */

        char path[256], raw_path[256];
        harness_path(&h2, "calibrated.csv", path, sizeof(path));
        harness_path(&h2, "raw.csv", raw_path, sizeof(raw_path));
        mtt_options o = {.socket_path = h2.socket, .label = "calibrated"};
        mtt_options raw = {
            .socket_path = h2.socket, .label = "raw", .calibrate = MTT_CALIBRATE_OFF};
        mtt_session *s, *r;
        uint64_t t0 = now_ms();
        assert_int_equal(mtt_open(path, &o, &s), 0);
        assert_int_equal(mtt_open(raw_path, &raw, &r), 0);
        assert_true(now_ms() - t0 < 1000); /* no calibration sleep: well under a second */

        /* The run takes 1 GiB more. */
        write_meminfo(meminfo, 3 * 1048576LL);
        usleep(1500000);
        /* Before any Close, the rows are in the file already (within 1 s of being taken). */
        char *text = harness_read_file(path);
        assert_non_null(text);
        assert_true(strncmp(text, "delta,ram\n0.000000,0.000000\n", 28) == 0);
        assert_non_null(strstr(text, ",1.000000\n"));
        free(text);

        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        assert_int_equal(mtt_close(r, MTT_COMPLETED), 0);
        text = harness_read_file(path);
        assert_true(fabs(last_data_value(text) - 1.0) < 1e-6);
        free(text);
        text = harness_read_file(raw_path);
        assert_true(strncmp(text, "delta,ram\n0.000000,2.000000\n", 28) == 0);
        assert_true(fabs(last_data_value(text) - 3.0) < 1e-6);
        free(text);

        /* One read serves every session due: the Sample stats say how many. */
        int c = harness_connect(&h2);
        json_t *reply = harness_call(c, "io.mtt.Tracker.Sample", NULL, NULL, 0);
        json_t *stats = json_object_get(json_object_get(reply, "parameters"), "stats");
        assert_true(json_integer_value(json_object_get(stats, "samples")) > 10);
        assert_true(json_integer_value(json_object_get(stats, "rows_written")) >= 4);
        assert_true(json_number_value(json_object_get(stats, "sessions_per_sample")) > 0.5);
        json_decref(reply);
        close(c);
        assert_int_equal(harness_stop(&h2, true), 0);
        unlink(meminfo);
}

/* Intervals are checked: 100 us is the floor, max_interval_s at least 1 and not below min. */
static void test_interval_limits(void **state)
{
        int c = harness_connect(&H);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        static const char *const bad[] = {
            "{\"fd\":0,\"min_interval_us\":99}",
            "{\"fd\":0,\"max_interval_s\":0}",
            "{\"fd\":0,\"min_interval_us\":5000000,\"max_interval_s\":1}",
        };
        for (size_t i = 0; i < 3; i++) {
                json_t *r = harness_call(c, "io.mtt.Tracker.Open", bad[i], &null, 1);
                assert_string_equal(harness_error(r), "io.mtt.Tracker.InvalidParameter");
                json_decref(r);
        }
        json_t *r =
            harness_call(c, "io.mtt.Tracker.Open",
                         "{\"fd\":0,\"min_interval_us\":100,\"max_interval_s\":2}", &null, 1);
        assert_null(harness_error(r));
        assert_int_equal((int)session_num(r, "min_interval_us"), 100);
        assert_int_equal((int)session_num(r, "max_interval_s"), 2);
        json_decref(r);
        close(null);
        close(c);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_completed),
            cmocka_unit_test(test_failed),
            cmocka_unit_test(test_crashed_by_supervisor),
            cmocka_unit_test(test_sigkilled_client),
            cmocka_unit_test(test_invalid_fds),
            cmocka_unit_test(test_truncate),
            cmocka_unit_test(test_protocol_calls),
            cmocka_unit_test(test_protocol_framing),
            cmocka_unit_test(test_other_uid),
            cmocka_unit_test(test_baseline_and_flush),
            cmocka_unit_test(test_interval_limits),
            cmocka_unit_test(test_job_from_the_environment),
            cmocka_unit_test(test_job_refused),
            cmocka_unit_test(test_write_error),
            cmocka_unit_test(test_uncalibrated),
            cmocka_unit_test(test_stalled_report),
            cmocka_unit_test(test_hangup_while_waiting),
            cmocka_unit_test(test_fds_with_coalesced_calls),
            cmocka_unit_test(test_large_list),
            cmocka_unit_test(test_sigterm_flushes),
            cmocka_unit_test(test_sigterm_with_a_stalled_report),
            cmocka_unit_test(test_no_daemon),
        };
        return harness_finish(&H, cmocka_run_group_tests(tests, start, NULL));
}

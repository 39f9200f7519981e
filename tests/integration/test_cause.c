/* Integration: how a session ended without Close, as mttd learns it from its client's
 * pidfd: killed by a signal, exited after closing its connection, or still running. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "proto/connection.h"
#include "proto/interface.h"

static harness H;

static int start(void **state)
{
        return harness_start(&H, NULL);
}

typedef enum { KILLED, SEGFAULT, EXITS, RUNS_ON } ending;

/* A client that opens a session, tells its id through out, then ends as told. */
static void client(ending how, int out)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char path[256];
        harness_path(&H, "cause.csv", path, sizeof(path));
        int report = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int conn = harness_connect(&H);
        json_t *r = harness_call(conn, MTT_PROTO_METHOD_OPEN, "{\"fd\":0}", &report, 1);
        json_int_t id = json_integer_value(
            json_object_get(json_object_get(json_object_get(r, "parameters"), "session"), "id"));
        if (write(out, &id, sizeof(id)) != sizeof(id))
                _exit(100);
        switch (how) {
        case KILLED:
                pause();
                break;
        case SEGFAULT: {
                struct rlimit none = {0, 0}; /* no core dump: the cause is the same everywhere */
                setrlimit(RLIMIT_CORE, &none);
                signal(SIGSEGV, SIG_DFL);
                raise(SIGSEGV);
                break;
        }
        case EXITS:
                close(conn);
                usleep(100000);
                _exit(3);
        case RUNS_ON:
                close(conn);
                sleep(10);
                break;
        }
        _exit(0);
}

/* Watches session id to its end and returns its cause (malloc'ed). */
static char *cause_of(json_int_t id)
{
        mtt_proto_conn c;
        assert_int_equal(mtt_proto_conn_open(&c, H.socket), 0);
        json_t *call =
            mtt_proto_call_new(MTT_PROTO_METHOD_WATCH, json_pack("{s:I}", "id", id), true, false);
        assert_int_equal(mtt_proto_conn_send(&c, call, NULL, 0), 0);
        json_decref(call);
        char *cause = NULL;
        for (;;) {
                mtt_proto_reply r;
                assert_int_equal(mtt_proto_conn_recv(&c, 10000, &r), 0);
                assert_null(r.error);
                bool last = !r.continues;
                if (last) {
                        json_t *s = json_object_get(r.parameters, "session");
                        assert_string_equal(json_string_value(json_object_get(s, "state")),
                                            "crashed");
                        cause = strdup(json_string_value(json_object_get(s, "cause")));
                }
                mtt_proto_reply_done(&r);
                if (last)
                        break;
        }
        mtt_proto_conn_close(&c);
        return cause;
}

static pid_t start_client(ending how, json_int_t *id)
{
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0)
                client(how, p[1]);
        close(p[1]);
        assert_int_equal(read(p[0], id, sizeof(*id)), sizeof(*id));
        close(p[0]);
        return pid;
}

static void test_sigkill(void **state)
{
        json_int_t id;
        pid_t pid = start_client(KILLED, &id);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *cause = cause_of(id);
        assert_string_equal(cause, "killed by SIGKILL");
        free(cause);
}

static void test_segfault(void **state)
{
        json_int_t id;
        pid_t pid = start_client(SEGFAULT, &id);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
        char *cause = cause_of(id);
        assert_string_equal(cause, "killed by SIGSEGV");
        free(cause);
}

/* Closing the connection and exiting: the exit status, even before the parent reaps. */
static void test_exit_after_closing(void **state)
{
        json_int_t id;
        pid_t pid = start_client(EXITS, &id);
        char *cause = cause_of(id);
        assert_string_equal(cause, "exited with status 3 without Close");
        free(cause);
        waitpid(pid, NULL, 0);
}

static void test_still_running(void **state)
{
        json_int_t id;
        pid_t pid = start_client(RUNS_ON, &id);
        char *cause = cause_of(id);
        assert_string_equal(cause, "the client closed its connection while still running");
        free(cause);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sigkill),
            cmocka_unit_test(test_segfault),
            cmocka_unit_test(test_exit_after_closing),
            cmocka_unit_test(test_still_running),
        };
        return harness_finish(&H, cmocka_run_group_tests(tests, start, NULL));
}

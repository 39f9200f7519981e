/* Integration: hostile and careless clients against a live mttd (SPEC 8 and 9). After each,
 * a fresh client must complete a session normally. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"
#include "proto/frame.h"

static harness H;

static int start(void **state)
{
        static const char *const args[] = {"--idle-timeout-s", "2", "--max-connections-per-uid",
                                           "3000", NULL};
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        return harness_start(&H, args);
}

/* A fresh client completes a session: the daemon is unharmed. */
static void fresh_session_works(void)
{
        assert_true(harness_session_completes(&H, "fresh"));
}

static void test_deep_json_and_bad_utf8(void **state)
{
        enum { DEPTH = 10000 };
        char *deep = malloc(2 * DEPTH + 2);
        memset(deep, '[', DEPTH);
        memset(deep + DEPTH, ']', DEPTH);
        deep[2 * DEPTH] = '\0';
        int fd = harness_connect(&H);
        json_t *r = harness_raw(fd, deep, 2 * DEPTH + 1, NULL, 0);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.ProtocolError");
        json_decref(r);
        assert_true(harness_closed_within(fd, 5000));
        close(fd);
        free(deep);

        static const char bad[] = "{\"method\":\"io.mtt.Tracker.List\",\"x\":\"\xff\xfe\"}";
        fd = harness_connect(&H);
        r = harness_raw(fd, bad, sizeof(bad), NULL, 0);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.ProtocolError");
        json_decref(r);
        close(fd);
        fresh_session_works();
}

/* More fds than a call may carry: the connection is refused, none of them stays open in
 * mttd, the daemon goes on. */
static void test_open_with_ten_fds(void **state)
{
        int fds[10];
        for (int i = 0; i < 10; i++)
                fds[i] = open("/dev/null", O_WRONLY | O_CLOEXEC);
        static const char call[] = "{\"method\":\"io.mtt.Tracker.Open\",\"parameters\":{\"fd\":0}}";
        int fd = harness_connect(&H);
        assert_int_equal(mtt_proto_send_all(fd, call, sizeof(call), fds, 8), 0);
        json_t *r = harness_raw(fd, "", 0, NULL, 0);
        /* Eight is the most a call may carry: this one is fine. */
        assert_non_null(r);
        assert_null(harness_error(r));
        json_decref(r);
        close(fd);

        fd = harness_connect(&H);
        /* send_all refuses more than eight, so build the message by hand. */
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 10)];
        } control = {0};
        struct iovec iov = {.iov_base = (void *)call, .iov_len = sizeof(call)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = &control,
                            .msg_controllen = CMSG_SPACE(sizeof(int) * 10)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * 10);
        memcpy(CMSG_DATA(c), fds, sizeof(fds));
        assert_true(sendmsg(fd, &mh, MSG_NOSIGNAL) > 0);
        r = harness_raw(fd, "", 0, NULL, 0);
        assert_non_null(r);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.ProtocolError");
        json_decref(r);
        assert_true(harness_closed_within(fd, 5000));
        close(fd);
        for (int i = 0; i < 10; i++)
                close(fds[i]);
        fresh_session_works();
}

/* SPEC 9: a report into a pipe whose reader left ends that session in error (EPIPE); the
 * others go on. */
static void test_reader_leaves(void **state)
{
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        mtt_options o = {.socket_path = H.socket, .label = "reader leaves"};
        mtt_session *s;
        assert_int_equal(mtt_open_fd(p[1], &o, &s), 0);
        close(p[1]);
        close(p[0]);
        fresh_session_works();
        /* The next write fails: Close reports EPIPE. */
        usleep(1500000);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), -EPIPE);
}

/* A terminal that hangs up (its pty master closed) fails writes with EIO: that session ends
 * in error with EIO, the others go on. */
static void test_terminal_hangs_up(void **state)
{
        int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        int tty = open(ptsname(master), O_WRONLY | O_NOCTTY | O_CLOEXEC);
        assert_true(tty >= 0);
        mtt_options o = {.socket_path = H.socket, .label = "terminal"};
        mtt_session *s;
        assert_int_equal(mtt_open_fd(tty, &o, &s), 0);
        close(tty);
        close(master);
        fresh_session_works();
        usleep(1500000); /* the next write fails */
        assert_int_equal(mtt_close(s, MTT_COMPLETED), -EIO);
        char *log = harness_read_file(H.log);
        assert_non_null(strstr(log, strerror(EIO)));
        free(log);
}

/* SPEC 9 under pressure: one user's 300 reports into pipes nobody reads hold only that
 * user's share of the writer threads (there are 256 at most); another user's pipe report
 * still gets its rows at once. */
static void test_stalled_reports_of_one_user(void **state)
{
        enum { STALLED = 300 };
        if (geteuid() != 0) {
                print_message("skipped: needs root to become nobody\n");
                skip();
        }
        int ready[2];
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(10);
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* after setuid, which clears it */
                int conn = harness_connect(&H);
                for (int i = 0; i < STALLED; i++) {
                        int p[2];
                        if (harness_full_pipe(p) < 0)
                                _exit(11);
                        json_t *r = harness_call(conn, "io.mtt.Tracker.Open",
                                                 "{\"fd\":0,\"label\":\"stalled\"}", &p[1], 1);
                        if (!r || harness_error(r))
                                _exit(12);
                        json_decref(r);
                        close(p[1]); /* p[0] stays open, never read */
                }
                if (write(ready[1], "y", 1) != 1)
                        _exit(13);
                pause();
                _exit(0);
        }
        close(ready[1]);
        char c;
        struct pollfd p = {.fd = ready[0], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 60000), 1);
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        usleep(2500000); /* their writes go out and stall */

        int mine[2];
        assert_int_equal(pipe2(mine, O_CLOEXEC), 0);
        mtt_options o = {.socket_path = H.socket, .label = "read"};
        mtt_session *s;
        assert_int_equal(mtt_open_fd(mine[1], &o, &s), 0);
        close(mine[1]);
        /* The header and the first row reach the pipe within a flush (0.9 s). */
        char buf[256];
        struct pollfd q = {.fd = mine[0], .events = POLLIN};
        assert_int_equal(poll(&q, 1, 3000), 1);
        ssize_t n = read(mine[0], buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_non_null(strstr(buf, "delta,ram\n0.000000,"));
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        close(mine[0]);

        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fresh_session_works();
}

/* SPEC 8: past the connection limit a client is told why (TooManyConnections) and closed;
 * the connections within it are served, and a freed slot is taken again. */
static void test_connection_limit(void **state)
{
        enum { LIMIT = 5 };
        static const char *const args[] = {"--max-connections-per-uid", "5", NULL};
        harness h2;
        assert_int_equal(harness_start(&h2, args), 0);
        usleep(200000); /* mttd sees the hangup of the harness's probe */
        int fds[LIMIT];
        for (int i = 0; i < LIMIT; i++)
                assert_true((fds[i] = harness_connect(&h2)) >= 0);
        json_t *r = harness_call(fds[LIMIT - 1], "io.mtt.Tracker.List", NULL, NULL, 0);
        assert_non_null(r);
        assert_null(harness_error(r));
        json_decref(r);
        int extra = harness_connect(&h2);
        r = harness_raw(extra, "", 0, NULL, 0);
        assert_non_null(r);
        assert_string_equal(harness_error(r), "io.mtt.Tracker.TooManyConnections");
        json_t *p = json_object_get(r, "parameters");
        assert_int_equal(json_integer_value(json_object_get(p, "limit")), LIMIT);
        assert_string_equal(json_string_value(json_object_get(p, "scope")), "user");
        json_decref(r);
        assert_true(harness_closed_within(extra, 2000));
        close(extra);
        close(fds[0]);
        usleep(200000); /* mttd sees the hangup */
        assert_true(harness_session_completes(&h2, "after"));
        for (int i = 1; i < LIMIT; i++)
                close(fds[i]);
        assert_int_equal(harness_stop(&h2, true), 0);
}

/* CPU ticks (user + system) a process has used. */
static long cpu_ticks(pid_t pid)
{
        char path[64], line[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f || !fgets(line, sizeof(line), f)) {
                if (f)
                        fclose(f);
                return -1;
        }
        fclose(f);
        long utime, stime;
        char *rest = strrchr(line, ')');
        if (!rest || sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime,
                            &stime) != 2)
                return -1;
        return utime + stime;
}

/* Out of fds, accept fails with EMFILE: mttd waits instead of spinning, and serves again
 * once fds are free. */
static void test_out_of_fds(void **state)
{
        enum { CONNS = 40 };
        if (H.valgrind) {
                print_message("skipped: valgrind keeps fds of its own near the limit\n");
                skip();
        }
        harness h2;
        assert_int_equal(harness_start(&h2, NULL), 0);
        /* The soft limit only: putting it back needs no privilege. */
        struct rlimit high, low;
        assert_int_equal(prlimit(h2.pid, RLIMIT_NOFILE, NULL, &high), 0);
        low = (struct rlimit){32, high.rlim_max};
        assert_int_equal(prlimit(h2.pid, RLIMIT_NOFILE, &low, NULL), 0);
        int fds[CONNS];
        for (int i = 0; i < CONNS; i++)
                assert_true((fds[i] = harness_connect(&h2)) >= 0);
        usleep(200000);
        long before = cpu_ticks(h2.pid);
        usleep(1000000);
        long used = cpu_ticks(h2.pid) - before;
        print_message("mttd used %ld ticks in 1 s while out of fds\n", used);
        assert_true(used < sysconf(_SC_CLK_TCK) / 5); /* a spinning loop would take them all */
        char *log = harness_read_file(h2.log);
        assert_non_null(strstr(log, "cannot accept: Too many open files"));
        free(log);
        assert_int_equal(prlimit(h2.pid, RLIMIT_NOFILE, &high, NULL), 0);
        for (int i = 0; i < CONNS; i++)
                close(fds[i]);
        assert_true(harness_session_completes(&h2, "after"));
        assert_int_equal(harness_stop(&h2, true), 0);
}

/* SPEC 8: connections that hold no session and say nothing are closed after the idle
 * timeout (2 s here); one that holds a session is not. 2000 of them hurt nobody. */
static void test_idle_connections(void **state)
{
        enum { IDLE = 2000 };
        int *fds = malloc(IDLE * sizeof(int));
        for (int i = 0; i < IDLE; i++) {
                fds[i] = harness_connect(&H);
                assert_true(fds[i] >= 0);
        }
        fresh_session_works();

        char path[256];
        harness_path(&H, "held.csv", path, sizeof(path));
        mtt_options o = {.socket_path = H.socket, .label = "held"};
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);

        assert_true(harness_closed_within(fds[0], 6000));
        for (int i = 1; i < IDLE; i++)
                assert_true(harness_closed_within(fds[i], 1000));
        for (int i = 0; i < IDLE; i++)
                close(fds[i]);
        free(fds);
        /* The session's connection outlived the timeout: it still closes normally. */
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        assert_true(mtt_has_completed_successfully(path));
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_deep_json_and_bad_utf8),
            cmocka_unit_test(test_open_with_ten_fds),
            cmocka_unit_test(test_reader_leaves),
            cmocka_unit_test(test_terminal_hangs_up),
            cmocka_unit_test(test_stalled_reports_of_one_user),
            cmocka_unit_test(test_idle_connections),
            cmocka_unit_test(test_connection_limit),
            cmocka_unit_test(test_out_of_fds),
        };
        return harness_finish(&H, cmocka_run_group_tests(tests, start, NULL));
}

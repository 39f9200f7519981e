/* Integration: mttd under a service manager's eyes. A NOTIFY_SOCKET this test binds gets
 * READY=1 only once the socket accepts, STATUS= with the session count, WATCHDOG=1 at half of
 * WATCHDOG_USEC, and STOPPING=1 on SIGTERM; all from mttd's own pid. */
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
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"

typedef struct notify_sock {
        int fd;
        char path[108];
} notify_sock;

static void bind_notify(notify_sock *n, const char *dir)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(n->path, sizeof(n->path), "%s/notify", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", n->path);
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(n->fd >= 0);
        int one = 1;
        assert_int_equal(setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        assert_int_equal(bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* The next datagram within ms, NUL-terminated, and its sender's pid; false on timeout. */
static bool next_message(notify_sock *n, int ms, char *buf, size_t size, pid_t *sender)
{
        struct pollfd p = {.fd = n->fd, .events = POLLIN};
        if (poll(&p, 1, ms) <= 0)
                return false;
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 8)];
        } control;
        struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = &control,
                            .msg_controllen = sizeof(control)};
        ssize_t r = recvmsg(n->fd, &mh, MSG_CMSG_CLOEXEC);
        if (r < 0)
                return false;
        buf[r] = '\0';
        *sender = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                        *sender = ((struct ucred *)CMSG_DATA(c))->pid;
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        /* BARRIER=1 and friends pass fds: a receiver closes them. */
                        int *fds = (int *)CMSG_DATA(c);
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                                close(fds[i]);
                }
        }
        return true;
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_notify_protocol(void **state)
{
        char dir[] = "/tmp/mtt-notify-XXXXXX";
        assert_non_null(mkdtemp(dir));
        notify_sock n;
        bind_notify(&n, dir);
        char sock[128], log[128];
        snprintf(sock, sizeof(sock), "%s/sock", dir);
        snprintf(log, sizeof(log), "%s/mttd.log", dir);

        pid_t pid = fork();
        if (pid == 0) {
                setenv("NOTIFY_SOCKET", n.path, 1);
                setenv("WATCHDOG_USEC", "200000", 1);
                unsetenv("WATCHDOG_PID");
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                dup2(fd, 2);
                execl(MTTD_PATH, MTTD_PATH, "--socket", sock, (char *)NULL);
                _exit(127);
        }

        /* READY=1 first, from mttd, and the socket accepts at once. */
        char msg[512];
        pid_t sender;
        bool ready = false;
        while (!ready && next_message(&n, 5000, msg, sizeof(msg), &sender)) {
                assert_int_equal(sender, pid);
                ready = strstr(msg, "READY=1") != NULL;
        }
        assert_true(ready);
        assert_non_null(strstr(msg, "STATUS="));
        mtt_options o = {.socket_path = sock, .label = "notified"};
        mtt_session *s;
        char report[160];
        snprintf(report, sizeof(report), "%s/r.csv", dir);
        assert_int_equal(mtt_open(report, &o, &s), 0);

        /* Within 1.5 s: pings at about 10 a second, and the new session count. */
        int pings = 0;
        bool status = false;
        uint64_t until = now_ms() + 1500;
        while (now_ms() < until && next_message(&n, 200, msg, sizeof(msg), &sender)) {
                assert_int_equal(sender, pid);
                pings += strcmp(msg, "WATCHDOG=1") == 0;
                status |= strstr(msg, "STATUS=Tracking 1 session") != NULL;
        }
        assert_true(pings >= 8);
        assert_true(pings <= 20);
        assert_true(status);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);

        /* SIGTERM with a session running, over a second after the last STATUS: STOPPING=1,
         * a clean exit, and the session that ends on the way out does not replace the
         * stopping status with a count. */
        snprintf(report, sizeof(report), "%s/r2.csv", dir);
        assert_int_equal(mtt_open(report, &o, &s), 0);
        usleep(1200000);
        kill(pid, SIGTERM);
        bool stopping = false;
        while (!stopping && next_message(&n, 5000, msg, sizeof(msg), &sender))
                stopping = strstr(msg, "STOPPING=1") != NULL;
        assert_true(stopping);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        while (next_message(&n, 0, msg, sizeof(msg), &sender))
                if (strstr(msg, "STATUS=Tracking"))
                        fail_msg("after STOPPING=1: %s", msg);
        mtt_close(s, MTT_COMPLETED); /* mttd is gone: only frees s */

        /* stderr is no terminal here: lines carry syslog priorities. */
        char *text = harness_read_file(log);
        assert_non_null(text);
        assert_non_null(strstr(text, "<6>session 1 (notified) opened by pid"));
        free(text);
        close(n.fd);
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* Without NOTIFY_SOCKET nothing is sent and nothing wakes mttd for it. */
static void test_watchdog_for_another_pid(void **state)
{
        char dir[] = "/tmp/mtt-notify-XXXXXX";
        assert_non_null(mkdtemp(dir));
        notify_sock n;
        bind_notify(&n, dir);
        char sock[128];
        snprintf(sock, sizeof(sock), "%s/sock", dir);
        pid_t pid = fork();
        if (pid == 0) {
                setenv("NOTIFY_SOCKET", n.path, 1);
                setenv("WATCHDOG_USEC", "100000", 1);
                setenv("WATCHDOG_PID", "1", 1); /* the watchdog is someone else's */
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 2);
                execl(MTTD_PATH, MTTD_PATH, "--socket", sock, (char *)NULL);
                _exit(127);
        }
        char msg[512];
        pid_t sender;
        int pings = 0;
        uint64_t until = now_ms() + 800;
        while (now_ms() < until && next_message(&n, 100, msg, sizeof(msg), &sender))
                pings += strcmp(msg, "WATCHDOG=1") == 0;
        assert_int_equal(pings, 0);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        close(n.fd);
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_notify_protocol),
            cmocka_unit_test(test_watchdog_for_another_pid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* systemd's file descriptor store, as a service manager sees it: a NOTIFY_SOCKET this test
 * binds gets "FDSTORE=1" with the name and the very file as SCM_RIGHTS, and "FDSTOREREMOVE=1";
 * and the fds a service manager passes at start ($LISTEN_FDS, $LISTEN_FDNAMES) are taken by
 * name, the rest closed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdstore.h"

static char dir[] = "/tmp/mtt-fdstore-XXXXXX";
static int notify_fd = -1;

/* fd moved to 100 or above: 3, 4 and 5 stay free for what a service manager would pass. */
static int high(int fd)
{
        int h = fcntl(fd, F_DUPFD_CLOEXEC, 100);
        close(fd);
        return h;
}

static int bind_notify(void **state)
{
        if (!mkdtemp(dir))
                return -1;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
        notify_fd = high(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -1;
        int on = 1; /* the sender's credentials come along, as systemd asks for them */
        setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
        return setenv("NOTIFY_SOCKET", sa.sun_path, 1);
}

static int unbind_notify(void **state)
{
        char path[64];
        snprintf(path, sizeof(path), "%s/notify", dir);
        unlink(path);
        rmdir(dir);
        close(notify_fd);
        return 0;
}

/* One message: its text into buf, the fd it carried (or -1) into *fd. */
static void receive(char *buf, size_t size, int *fd)
{
        char ctl[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = {buf, size - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
        ssize_t n = recvmsg(notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        assert_true(n > 0);
        buf[n] = '\0';
        *fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        memcpy(fd, CMSG_DATA(c), sizeof(int));
}

static void test_push_hands_over_the_file(void **state)
{
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(mttd_fdstore_push("report-7", p[1]), 0);
        char buf[256];
        int got;
        receive(buf, sizeof(buf), &got);
        assert_string_equal(buf, "FDSTORE=1\nFDNAME=report-7");
        assert_true(got >= 0 && got != p[1]);
        struct stat a, b;
        assert_int_equal(fstat(got, &a), 0);
        assert_int_equal(fstat(p[1], &b), 0);
        assert_int_equal(a.st_ino, b.st_ino); /* the very pipe */
        assert_int_equal(write(got, "x", 1), 1);
        char c;
        assert_int_equal(read(p[0], &c, 1), 1);
        close(got);
        close(p[0]);
        close(p[1]);
}

static void test_remove_and_bad_names(void **state)
{
        assert_int_equal(mttd_fdstore_remove("conn-3"), 0);
        char buf[256];
        int got;
        receive(buf, sizeof(buf), &got);
        assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=conn-3");
        assert_int_equal(got, -1);
        /* ':' separates the names systemd passes; a newline would add a line to the message. */
        assert_int_equal(mttd_fdstore_push("a:b", 0), -EINVAL);
        assert_int_equal(mttd_fdstore_remove("a\nFDSTORE=1"), -EINVAL);
        assert_int_equal(mttd_fdstore_remove(""), -EINVAL);
        char long_name[300];
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        assert_false(mttd_fdstore_name_ok(long_name));
        assert_true(mttd_fdstore_name_ok("state.v1_x-2"));
        /* Without a service manager nothing is stored, and the caller hears so. */
        char *saved = strdup(getenv("NOTIFY_SOCKET"));
        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(mttd_fdstore_remove("conn-3"), -ENOTCONN);
        setenv("NOTIFY_SOCKET", saved, 1);
        free(saved);
}

/* What a service manager passes at start: fds 3, 4 and 5 named state, varlink and
 * report-9. */
static void test_received_by_name(void **state)
{
        int p[2], s = high(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        p[0] = high(p[0]);
        p[1] = high(p[1]);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/listen", dir);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(s, 1), 0);
        int memfd = high(memfd_create("state", MFD_CLOEXEC));
        assert_true(memfd >= 100 && s >= 100 && p[0] >= 100 && p[1] >= 100);
        assert_int_equal(dup2(memfd, 3), 3);
        assert_int_equal(dup2(s, 4), 4);
        assert_int_equal(dup2(p[1], 5), 5);
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "3", 1);
        setenv("LISTEN_FDNAMES", "state:varlink:report-9", 1);

        mttd_fdstore st;
        assert_int_equal(mttd_fdstore_received(&st), 0);
        assert_int_equal(st.n, 3);
        assert_null(getenv("LISTEN_FDS")); /* not for the children */
        assert_true(fcntl(5, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(mttd_fdstore_take(&st, "report-9"), 5);
        assert_int_equal(mttd_fdstore_take(&st, "report-9"), -ENOENT); /* taken */
        assert_int_equal(mttd_fdstore_take(&st, "conn-1"), -ENOENT);
        assert_int_equal(mttd_fdstore_take_listener(&st), 4); /* the socket, not the memfd */
        mttd_fdstore_done(&st);
        assert_int_equal(fcntl(3, F_GETFD), -1); /* nobody took it: closed */
        assert_true(fcntl(4, F_GETFD) >= 0);
        assert_true(fcntl(5, F_GETFD) >= 0);
        close(4);
        close(5);
        close(s);
        close(memfd);
        close(p[0]);
        close(p[1]);
        unlink(sa.sun_path);

        /* Nothing passed: an empty table. */
        assert_int_equal(mttd_fdstore_received(&st), 0);
        assert_int_equal(st.n, 0);
        mttd_fdstore_done(&st);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_push_hands_over_the_file),
            cmocka_unit_test(test_remove_and_bad_names),
            cmocka_unit_test(test_received_by_name),
        };
        return cmocka_run_group_tests(tests, bind_notify, unbind_notify);
}

/* Unit tests for proto/frame.h: NUL framing, the frame cap, fd attachment and socket I/O. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/frame.h"

static bool fd_is_open(int fd)
{
        return fcntl(fd, F_GETFD) != -1;
}

static bool fd_is_closed(int fd)
{
        errno = 0;
        return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static int devnull(void)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

/* Feeds a string and its terminating NUL. */
static int feed_msg(mtt_proto_inbuf *b, const char *msg, const int *fds, size_t n_fds)
{
        return mtt_proto_inbuf_feed(b, msg, strlen(msg) + 1, fds, n_fds);
}

static void expect_frame(mtt_proto_inbuf *b, const char *want, size_t want_fds, mtt_proto_frame *f)
{
        assert_int_equal(mtt_proto_inbuf_next(b, f), 0);
        assert_int_equal(f->len, strlen(want));
        assert_memory_equal(f->data, want, f->len);
        assert_int_equal(f->data[f->len], '\0');
        assert_int_equal(f->n_fds, want_fds);
}

static void test_round_trip(void **state)
{
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(b.max_frame, MTT_PROTO_MAX_FRAME);
        assert_int_equal(mtt_proto_inbuf_next(&b, &f), -EAGAIN);
        assert_int_equal(feed_msg(&b, "{\"method\":\"io.mtt.Tracker.List\"}", NULL, 0), 0);
        assert_true(mtt_proto_inbuf_partial(&b));
        expect_frame(&b, "{\"method\":\"io.mtt.Tracker.List\"}", 0, &f);
        assert_int_equal(mtt_proto_inbuf_next(&b, &f), -EAGAIN);
        assert_false(mtt_proto_inbuf_partial(&b));
        mtt_proto_inbuf_free(&b);
}

static void test_one_byte_at_a_time(void **state)
{
        static const char stream[] = "{\"a\":1}\0{\"bb\":[2,3]}"; /* sizeof includes 2nd NUL */
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        mtt_proto_inbuf_init(&b, 0);
        int frames = 0;
        for (size_t i = 0; i < sizeof(stream); i++) {
                assert_int_equal(mtt_proto_inbuf_feed(&b, stream + i, 1, NULL, 0), 0);
                int r = mtt_proto_inbuf_next(&b, &f);
                if (stream[i] != '\0') {
                        assert_int_equal(r, -EAGAIN);
                        assert_true(mtt_proto_inbuf_partial(&b));
                        continue;
                }
                assert_int_equal(r, 0);
                assert_string_equal(f.data, frames == 0 ? "{\"a\":1}" : "{\"bb\":[2,3]}");
                frames++;
        }
        assert_int_equal(frames, 2);
        assert_int_equal(mtt_proto_inbuf_next(&b, &f), -EAGAIN);
        mtt_proto_inbuf_free(&b);
}

static void test_several_frames_in_one_feed(void **state)
{
        static const char chunk[] = "a\0bb\0ccc\0dd"; /* ends inside a fourth frame */
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(mtt_proto_inbuf_feed(&b, chunk, sizeof(chunk) - 1, NULL, 0), 0);
        expect_frame(&b, "a", 0, &f);
        expect_frame(&b, "bb", 0, &f);
        expect_frame(&b, "ccc", 0, &f);
        assert_int_equal(mtt_proto_inbuf_next(&b, &f), -EAGAIN);
        assert_true(mtt_proto_inbuf_partial(&b));
        assert_int_equal(mtt_proto_inbuf_feed(&b, "d\0", 2, NULL, 0), 0);
        expect_frame(&b, "ddd", 0, &f);
        assert_false(mtt_proto_inbuf_partial(&b));
        /* An empty message is a frame too (the JSON layer rejects it). */
        assert_int_equal(mtt_proto_inbuf_feed(&b, "\0", 1, NULL, 0), 0);
        expect_frame(&b, "", 0, &f);
        mtt_proto_inbuf_free(&b);
}

static void test_frame_cap(void **state)
{
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        char big[64];
        memset(big, 'x', sizeof(big));

        /* Exactly the cap is fine. */
        mtt_proto_inbuf_init(&b, 16);
        assert_int_equal(mtt_proto_inbuf_feed(&b, big, 16, NULL, 0), 0);
        assert_int_equal(mtt_proto_inbuf_feed(&b, "\0", 1, NULL, 0), 0);
        assert_int_equal(mtt_proto_inbuf_next(&b, &f), 0);
        assert_int_equal(f.len, 16);
        mtt_proto_inbuf_free(&b);

        /* One byte over: refused by next (or already by feed). */
        mtt_proto_inbuf_init(&b, 16);
        int r = mtt_proto_inbuf_feed(&b, big, 17, NULL, 0);
        if (r == 0)
                r = mtt_proto_inbuf_next(&b, &f);
        assert_int_equal(r, -EMSGSIZE);
        mtt_proto_inbuf_free(&b);

        /* The cap is per message: two messages under it, together over it, both pass. */
        mtt_proto_inbuf_init(&b, 16);
        assert_int_equal(mtt_proto_inbuf_feed(&b, "aaaaaaaaaa\0bbbbbbbbbb\0", 22, NULL, 0), 0);
        expect_frame(&b, "aaaaaaaaaa", 0, &f);
        expect_frame(&b, "bbbbbbbbbb", 0, &f);
        mtt_proto_inbuf_free(&b);

        /* Far over, with its NUL. */
        mtt_proto_inbuf_init(&b, 16);
        r = mtt_proto_inbuf_feed(&b, big, 40, NULL, 0);
        if (r == 0)
                r = mtt_proto_inbuf_feed(&b, "\0", 1, NULL, 0);
        if (r == 0)
                r = mtt_proto_inbuf_next(&b, &f);
        assert_int_equal(r, -EMSGSIZE);
        mtt_proto_inbuf_free(&b);

        /* The default cap, reached in 1 KiB chunks. */
        mtt_proto_inbuf_init(&b, 0);
        char *kib = malloc(1024);
        assert_non_null(kib);
        memset(kib, ' ', 1024);
        r = 0;
        for (int i = 0; i < 65 && r == 0; i++) {
                r = mtt_proto_inbuf_feed(&b, kib, 1024, NULL, 0);
                if (r == 0 && (r = mtt_proto_inbuf_next(&b, &f)) == -EAGAIN)
                        r = 0; /* more to come */
                assert_true(r <= 0);
        }
        assert_int_equal(r, -EMSGSIZE);
        free(kib);
        mtt_proto_inbuf_free(&b);
}

static void test_fds_ride_with_their_frame(void **state)
{
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(feed_msg(&b, "{\"one\":1}", NULL, 0), 0);
        assert_int_equal(feed_msg(&b, "{\"two\":2}", p, 2), 0);
        assert_int_equal(feed_msg(&b, "{\"three\":3}", NULL, 0), 0);
        expect_frame(&b, "{\"one\":1}", 0, &f);
        expect_frame(&b, "{\"two\":2}", 2, &f);
        assert_int_equal(f.fds[0], p[0]);
        assert_int_equal(f.fds[1], p[1]);
        assert_int_equal(mtt_proto_frame_take_fd(&f, 0), p[0]);
        assert_int_equal(mtt_proto_frame_take_fd(&f, 0), -EBADF); /* once only */
        assert_int_equal(mtt_proto_frame_take_fd(&f, 1), p[1]);
        assert_int_equal(mtt_proto_frame_take_fd(&f, 2), -EBADF);
        expect_frame(&b, "{\"three\":3}", 0, &f);
        /* Taken fds are the caller's: freeing the buffer leaves them open. */
        mtt_proto_inbuf_free(&b);
        assert_true(fd_is_open(p[0]) && fd_is_open(p[1]));
        assert_int_equal(close(p[0]), 0);
        assert_int_equal(close(p[1]), 0);
}

/* Every message that starts in the read that brought fds is offered them; the first to
 * take one claims them all; what nobody takes is closed once those messages are done. */
static void test_fds_offered_within_their_read(void **state)
{
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        mtt_proto_inbuf_init(&b, 0);

        /* One sendmsg of two calls: the first takes the fd, the second sees none. */
        int fd = devnull();
        static const char open_list[] = "{\"open\":1}\0{\"list\":2}";
        assert_int_equal(mtt_proto_inbuf_feed(&b, open_list, sizeof(open_list), &fd, 1), 0);
        expect_frame(&b, "{\"open\":1}", 1, &f);
        assert_int_equal(mtt_proto_frame_take_fd(&f, 0), fd);
        expect_frame(&b, "{\"list\":2}", 0, &f);
        assert_true(fd_is_open(fd));
        close(fd);

        /* Two sends the kernel joined in one read: the call that wants the fd gets it. */
        fd = devnull();
        static const char list_open[] = "{\"list\":1}\0{\"open\":2}";
        assert_int_equal(mtt_proto_inbuf_feed(&b, list_open, sizeof(list_open), &fd, 1), 0);
        expect_frame(&b, "{\"list\":1}", 1, &f); /* offered, not taken */
        expect_frame(&b, "{\"open\":2}", 1, &f);
        assert_int_equal(mtt_proto_frame_take_fd(&f, 0), fd);
        assert_int_equal(mtt_proto_inbuf_next(&b, &f), -EAGAIN);
        assert_true(fd_is_open(fd));
        close(fd);

        /* A read that ends one message and starts the next: the earlier one is not offered. */
        fd = devnull();
        assert_int_equal(mtt_proto_inbuf_feed(&b, "{\"first\":", 9, NULL, 0), 0);
        static const char tail[] = "1}\0{\"second\":2}";
        assert_int_equal(mtt_proto_inbuf_feed(&b, tail, sizeof(tail), &fd, 1), 0);
        expect_frame(&b, "{\"first\":1}", 0, &f);
        expect_frame(&b, "{\"second\":2}", 1, &f);

        /* Nobody took it: closed once the messages of its read are consumed. */
        assert_true(fd_is_open(fd));
        assert_int_equal(feed_msg(&b, "{\"later\":3}", NULL, 0), 0);
        expect_frame(&b, "{\"later\":3}", 0, &f);
        assert_true(fd_is_closed(fd));
        mtt_proto_inbuf_free(&b);
}

static void test_fds_without_a_message_start(void **state)
{
        mtt_proto_inbuf b;
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(mtt_proto_inbuf_feed(&b, "{\"a\":", 5, NULL, 0), 0);
        /* A chunk that only continues a message cannot carry fds: refused, fds closed. */
        int fd = devnull();
        assert_int_equal(mtt_proto_inbuf_feed(&b, "12", 2, &fd, 1), -EPROTO);
        assert_true(fd_is_closed(fd));
        mtt_proto_inbuf_free(&b);

        /* More fds than a message may carry. */
        int many[MTT_PROTO_MAX_FDS + 1];
        for (size_t i = 0; i < MTT_PROTO_MAX_FDS + 1; i++)
                many[i] = devnull();
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(feed_msg(&b, "{}", many, MTT_PROTO_MAX_FDS + 1), -EPROTO);
        for (size_t i = 0; i < MTT_PROTO_MAX_FDS + 1; i++)
                assert_true(fd_is_closed(many[i]));
        mtt_proto_inbuf_free(&b);
}

static void test_free_closes_held_fds(void **state)
{
        mtt_proto_inbuf b;
        mtt_proto_frame f;
        int a = devnull(), c = devnull();
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(feed_msg(&b, "{\"a\":1}", &a, 1), 0);
        assert_int_equal(mtt_proto_inbuf_feed(&b, "{\"c\":", 5, &c, 1), 0); /* unfinished */
        assert_true(fd_is_open(a) && fd_is_open(c));
        mtt_proto_inbuf_free(&b);
        assert_true(fd_is_closed(a));
        assert_true(fd_is_closed(c));
        mtt_proto_inbuf_free(&b); /* a zeroed buffer is fine */

        /* Taken: the caller owns it, free leaves it alone. */
        a = devnull();
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(feed_msg(&b, "{}", &a, 1), 0);
        expect_frame(&b, "{}", 1, &f);
        assert_int_equal(mtt_proto_frame_take_fd(&f, 0), a);
        mtt_proto_inbuf_free(&b);
        assert_true(fd_is_open(a));
        close(a);

        /* Offered, not taken: the buffer closes it when freed. */
        a = devnull();
        mtt_proto_inbuf_init(&b, 0);
        assert_int_equal(feed_msg(&b, "{}", &a, 1), 0);
        expect_frame(&b, "{}", 1, &f);
        mtt_proto_inbuf_free(&b);
        assert_true(fd_is_closed(a));
}

static void nb_socketpair(int sv[2])
{
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_outbuf_simple(void **state)
{
        int sv[2];
        nb_socketpair(sv);
        mtt_proto_outbuf o;
        mtt_proto_outbuf_init(&o, 0);
        assert_false(mtt_proto_outbuf_pending(&o));
        assert_int_equal(mtt_proto_outbuf_put(&o, "{\"x\":1}", 7), 0);
        assert_int_equal(mtt_proto_outbuf_put(&o, "{}", 2), 0);
        assert_true(mtt_proto_outbuf_pending(&o));
        assert_int_equal(mtt_proto_outbuf_flush(&o, sv[0]), 0);
        assert_false(mtt_proto_outbuf_pending(&o));
        char buf[32];
        assert_int_equal(read(sv[1], buf, sizeof(buf)), 11);
        assert_memory_equal(buf, "{\"x\":1}\0{}\0", 11);
        mtt_proto_outbuf_free(&o);
        close(sv[0]);
        close(sv[1]);
}

/* Reads whatever the socket holds into buf at *n (up to cap). */
static void drain(int fd, char *buf, size_t *n, size_t cap)
{
        ssize_t k;
        while (*n < cap && (k = read(fd, buf + *n, cap - *n)) > 0)
                *n += (size_t)k;
        if (*n < cap)
                assert_true(errno == EAGAIN);
}

static void test_outbuf_partial_write(void **state)
{
        int sv[2];
        nb_socketpair(sv);
        int small = 4096;
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);

        /* Two messages: the second is queued while the first is half sent. */
        const size_t len1 = 512 * 1024, len2 = 600 * 1024, total = len1 + 1 + len2 + 1;
        char *want = malloc(total), *got = malloc(total);
        assert_non_null(want);
        assert_non_null(got);
        for (size_t i = 0; i < len1; i++)
                want[i] = (char)('a' + i % 26);
        want[len1] = '\0';
        for (size_t i = 0; i < len2; i++)
                want[len1 + 1 + i] = (char)('0' + i % 10);
        want[total - 1] = '\0';

        mtt_proto_outbuf o;
        mtt_proto_outbuf_init(&o, 2 * 1024 * 1024);
        assert_int_equal(mtt_proto_outbuf_put(&o, want, len1), 0);
        size_t n_got = 0;
        int r = mtt_proto_outbuf_flush(&o, sv[0]);
        assert_int_equal(r, 0);
        assert_true(mtt_proto_outbuf_pending(&o)); /* the small send buffer filled up */
        drain(sv[1], got, &n_got, total);
        assert_true(n_got > 0 && n_got < len1);
        assert_int_equal(mtt_proto_outbuf_put(&o, want + len1 + 1, len2), 0);

        int rounds = 0;
        while ((r = mtt_proto_outbuf_flush(&o, sv[0])) == 0 && mtt_proto_outbuf_pending(&o)) {
                drain(sv[1], got, &n_got, total);
                assert_true(++rounds < 100000);
        }
        assert_int_equal(r, 0);
        assert_false(mtt_proto_outbuf_pending(&o));
        drain(sv[1], got, &n_got, total);
        assert_int_equal(n_got, total);
        assert_memory_equal(got, want, total);
        assert_true(rounds > 1);

        free(got);
        free(want);
        mtt_proto_outbuf_free(&o);
        close(sv[0]);
        close(sv[1]);
}

static void test_outbuf_limit(void **state)
{
        int sv[2];
        nb_socketpair(sv);
        char msg[100];
        memset(msg, 'm', sizeof(msg));
        mtt_proto_outbuf o;
        mtt_proto_outbuf_init(&o, 100);
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 49), 0);
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 49), 0); /* 2 x (49 + NUL): the limit */
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 0), -ENOBUFS);
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 1), -ENOBUFS);
        assert_int_equal(mtt_proto_outbuf_flush(&o, sv[0]), 0);
        /* Sent bytes no longer count; one message alone always fits, even past the limit. */
        char big[300];
        memset(big, 'b', sizeof(big));
        assert_int_equal(mtt_proto_outbuf_put(&o, big, sizeof(big)), 0);
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 0), -ENOBUFS);
        assert_int_equal(mtt_proto_outbuf_flush(&o, sv[0]), 0);
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 99), 0);
        assert_int_equal(mtt_proto_outbuf_put(&o, msg, 0), -ENOBUFS);
        assert_int_equal(mtt_proto_outbuf_flush(&o, sv[0]), 0);
        mtt_proto_outbuf_free(&o);
        char sink[512];
        assert_int_equal(read(sv[1], sink, sizeof(sink)), 100 + 301 + 100);

        /* A peer that is gone: an error, not SIGPIPE. */
        mtt_proto_outbuf_init(&o, 0);
        assert_int_equal(mtt_proto_outbuf_put(&o, "{}", 2), 0);
        close(sv[1]);
        assert_int_equal(mtt_proto_outbuf_flush(&o, sv[0]), -EPIPE);
        mtt_proto_outbuf_free(&o);
        close(sv[0]);
}

static void test_send_all_and_recv_with_fd(void **state)
{
        int sv[2];
        nb_socketpair(sv);
        int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
        assert_true(fd >= 0);
        assert_false(fcntl(fd, F_GETFD) & FD_CLOEXEC);

        static const char first[] = "{\"method\":\"io.mtt.Tracker.List\"}";
        static const char second[] =
            "{\"method\":\"io.mtt.Tracker.Open\",\"parameters\":{\"fd\":0}}";
        assert_int_equal(mtt_proto_send_all(sv[0], first, sizeof(first), NULL, 0), 0);
        assert_int_equal(mtt_proto_send_all(sv[0], second, sizeof(second), &fd, 1), 0);

        mtt_proto_inbuf b;
        mtt_proto_frame f;
        mtt_proto_inbuf_init(&b, 0);
        mtt_proto_frame got[2]; /* only n_fds is used: the rest dies with the next call */
        int rfd = -1;
        int n_frames = 0;
        while (n_frames < 2) {
                int r = mtt_proto_inbuf_next(&b, &f);
                assert_true(r == 0 || r == -EAGAIN);
                if (r == 0) {
                        assert_string_equal(f.data, n_frames == 0 ? first : second);
                        /* The kernel may join both sends in one read: List may be offered
                         * the fd too; Open takes it. */
                        if (n_frames == 1)
                                rfd = mtt_proto_frame_take_fd(&f, 0);
                        got[n_frames++] = f;
                        continue;
                }
                long n = mtt_proto_inbuf_recv(&b, sv[1]);
                assert_true(n > 0);
        }
        assert_int_equal(got[1].n_fds, 1);
        assert_true(rfd >= 0 && rfd != fd);
        assert_true(fcntl(rfd, F_GETFD) & FD_CLOEXEC);
        struct stat a, c;
        assert_int_equal(fstat(fd, &a), 0);
        assert_int_equal(fstat(rfd, &c), 0);
        assert_true(a.st_dev == c.st_dev && a.st_ino == c.st_ino);
        close(rfd);

        /* Nothing more: -EAGAIN; the peer gone: 0. */
        assert_int_equal(mtt_proto_inbuf_recv(&b, sv[1]), -EAGAIN);
        close(sv[0]);
        assert_int_equal(mtt_proto_inbuf_recv(&b, sv[1]), 0);
        assert_false(mtt_proto_inbuf_partial(&b));

        /* Too many fds for one message. */
        int fds[MTT_PROTO_MAX_FDS + 1];
        for (size_t i = 0; i < MTT_PROTO_MAX_FDS + 1; i++)
                fds[i] = fd;
        assert_int_equal(mtt_proto_send_all(sv[1], "{}", 3, fds, MTT_PROTO_MAX_FDS + 1), -EINVAL);

        mtt_proto_inbuf_free(&b);
        close(sv[1]);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_one_byte_at_a_time),
            cmocka_unit_test(test_several_frames_in_one_feed),
            cmocka_unit_test(test_frame_cap),
            cmocka_unit_test(test_fds_ride_with_their_frame),
            cmocka_unit_test(test_fds_offered_within_their_read),
            cmocka_unit_test(test_fds_without_a_message_start),
            cmocka_unit_test(test_free_closes_held_fds),
            cmocka_unit_test(test_outbuf_simple),
            cmocka_unit_test(test_outbuf_partial_write),
            cmocka_unit_test(test_outbuf_limit),
            cmocka_unit_test(test_send_all_and_recv_with_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Blocking client side of the varlink connection. */
#include "connection.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int mtt_proto_conn_open(mtt_proto_conn *c, const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        c->fd = -1;
        /* Replies (a List of every session) may be far larger than a call. */
        mtt_proto_inbuf_init(&c->in, MTT_PROTO_MAX_REPLY);
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        c->fd = fd;
        return 0;
}

void mtt_proto_conn_close(mtt_proto_conn *c)
{
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        mtt_proto_inbuf_free(&c->in);
}

int mtt_proto_conn_send(mtt_proto_conn *c, const json_t *msg, const int *fds, size_t n_fds)
{
        size_t len;
        char *s = mtt_proto_encode(msg, &len);
        if (!s)
                return -ENOMEM;
        int r = mtt_proto_send_all(c->fd, s, len, fds, n_fds);
        free(s);
        return r;
}

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mtt_proto_conn_recv(mtt_proto_conn *c, int timeout_ms, mtt_proto_reply *out)
{
        long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
        for (;;) {
                mtt_proto_frame f;
                int r = mtt_proto_inbuf_next(&c->in, &f);
                if (r == 0) /* fds a service sent are not taken: the buffer closes them */
                        return mtt_proto_reply_parse(f.data, f.len, out);
                if (r != -EAGAIN)
                        return r;
                int wait = -1;
                if (deadline >= 0) {
                        long long left = deadline - now_ms();
                        if (left <= 0)
                                return -ETIMEDOUT;
                        wait = (int)left;
                }
                struct pollfd p = {.fd = c->fd, .events = POLLIN};
                r = poll(&p, 1, wait);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                long n = mtt_proto_inbuf_recv(&c->in, c->fd);
                if (n == 0)
                        return -ECONNRESET;
                if (n < 0 && n != -EAGAIN && n != -EINTR)
                        return (int)n;
        }
}

int mtt_proto_conn_call(mtt_proto_conn *c, const char *method, json_t *params, const int *fds,
                        size_t n_fds, int timeout_ms, mtt_proto_reply *out)
{
        json_t *msg = mtt_proto_call_new(method, params, false, false);
        if (!msg)
                return -ENOMEM;
        int r = mtt_proto_conn_send(c, msg, fds, n_fds);
        json_decref(msg);
        /* mttd may have refused the connection (TooManyConnections) before the call went
         * out: its reason waits to be read. */
        if ((r == -EPIPE || r == -ECONNRESET) && mtt_proto_conn_recv(c, 1000, out) == 0)
                return 0;
        if (r < 0)
                return r;
        return mtt_proto_conn_recv(c, timeout_ms, out);
}

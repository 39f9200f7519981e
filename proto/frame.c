/* Varlink framing buffers: split and coalesced reads, size cap, fd passing. */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/grow.h"

#define INBUF_INITIAL 4096

/* The fds the buffer drops: close(2), or the owner's closer. */
static void close_fd(const mtt_proto_inbuf *b, int fd)
{
        if (b->close_fd)
                b->close_fd(b->close_ctx, fd);
        else
                close(fd);
}

static void close_fds(const mtt_proto_inbuf *b, const int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close_fd(b, fds[i]);
}

void mtt_proto_inbuf_init(mtt_proto_inbuf *b, size_t max_frame)
{
        memset(b, 0, sizeof(*b));
        b->max_frame = max_frame ? max_frame : MTT_PROTO_MAX_FRAME;
}

void mtt_proto_inbuf_free(mtt_proto_inbuf *b)
{
        if (!b)
                return;
        for (size_t i = 0; i < b->n_sets; i++)
                close_fds(b, b->sets[i].fds, b->sets[i].n);
        free(b->data);
        memset(b, 0, sizeof(*b));
}

/* Drops the frame handed out last, so offsets below start at the next message, and the fds
 * no later message can take. */
static void drop_consumed(mtt_proto_inbuf *b)
{
        size_t c = b->consumed;
        if (c == 0)
                return;
        memmove(b->data, b->data + c, b->len - c);
        b->len -= c;
        b->scanned = b->scanned > c ? b->scanned - c : 0;
        size_t k = 0;
        for (size_t i = 0; i < b->n_sets; i++) {
                mtt_proto_fdset *set = &b->sets[i];
                if (set->claimed || set->end <= c) {
                        close_fds(b, set->fds, set->n);
                        continue;
                }
                set->at = set->at > c ? set->at - c : 0;
                set->end -= c;
                b->sets[k++] = *set;
        }
        b->n_sets = k;
        b->consumed = 0;
}

/* Complete messages held plus one message at most the cap long, with its NUL: the cap is
 * on a message, not on the buffer. */
static size_t buffer_limit(const mtt_proto_inbuf *b)
{
        const char *nul = b->len ? memrchr(b->data, '\0', b->len) : NULL;
        size_t complete = nul ? (size_t)(nul - b->data) + 1 : 0;
        return complete + b->max_frame + 1;
}

/* Room for at least one more byte (up to want), growing within the limit. */
static int reserve(mtt_proto_inbuf *b, size_t want)
{
        size_t limit = buffer_limit(b);
        if (b->len < b->cap)
                return 0;
        if (b->len >= limit)
                return -EMSGSIZE;
        size_t cap = b->cap ? b->cap : INBUF_INITIAL;
        while (cap < b->len + want && cap < limit)
                cap *= 2;
        if (cap > limit)
                cap = limit;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

/* The fds of one read go with the bytes [start, len) it brought; a message must start there. */
static int attach_fds(mtt_proto_inbuf *b, size_t start, const int *fds, size_t n_fds)
{
        bool starts = start == 0 || b->data[start - 1] == '\0';
        for (size_t i = start; !starts && i + 1 < b->len; i++)
                starts = b->data[i] == '\0';
        if (!starts || n_fds > MTT_PROTO_MAX_FDS || b->n_sets == MTT_PROTO_MAX_FDSETS) {
                close_fds(b, fds, n_fds);
                return -EPROTO;
        }
        mtt_proto_fdset *set = &b->sets[b->n_sets++];
        *set = (mtt_proto_fdset){.at = start, .end = b->len, .n = n_fds};
        memcpy(set->fds, fds, n_fds * sizeof(int));
        return 0;
}

int mtt_proto_inbuf_feed(mtt_proto_inbuf *b, const void *data, size_t len, const int *fds,
                         size_t n_fds)
{
        drop_consumed(b);
        size_t start = b->len;
        while (len > 0) {
                int r = reserve(b, 1);
                if (r < 0) {
                        close_fds(b, fds, n_fds);
                        return r;
                }
                size_t n = b->cap - b->len < len ? b->cap - b->len : len;
                memcpy(b->data + b->len, data, n);
                b->len += n;
                data = (const char *)data + n;
                len -= n;
        }
        return n_fds > 0 ? attach_fds(b, start, fds, n_fds) : 0;
}

long mtt_proto_inbuf_recv(mtt_proto_inbuf *b, int sockfd)
{
        drop_consumed(b);
        int r = reserve(b, 1);
        if (r < 0)
                return r;

        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * MTT_PROTO_MAX_FDS)];
        } control;
        struct iovec iov = {.iov_base = b->data + b->len, .iov_len = b->cap - b->len};
        struct msghdr mh = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = &control,
            .msg_controllen = sizeof(control),
        };
        ssize_t n = recvmsg(sockfd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;

        int fds[MTT_PROTO_MAX_FDS];
        size_t n_fds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *p = (int *)CMSG_DATA(c);
                for (size_t i = 0; i < k; i++) {
                        if (n_fds < MTT_PROTO_MAX_FDS)
                                fds[n_fds++] = p[i];
                        else
                                close_fd(b, p[i]);
                }
        }
        if (mh.msg_flags & MSG_CTRUNC) {
                close_fds(b, fds, n_fds);
                return -EPROTO;
        }
        size_t start = b->len;
        b->len += (size_t)n;
        if (n_fds > 0) {
                if (n == 0) {
                        close_fds(b, fds, n_fds);
                        return -EPROTO;
                }
                r = attach_fds(b, start, fds, n_fds);
                if (r < 0)
                        return r;
        }
        return n;
}

int mtt_proto_inbuf_next(mtt_proto_inbuf *b, mtt_proto_frame *out)
{
        drop_consumed(b);
        char *nul =
            b->scanned < b->len ? memchr(b->data + b->scanned, '\0', b->len - b->scanned) : NULL;
        if (!nul) {
                b->scanned = b->len;
                return b->len > b->max_frame ? -EMSGSIZE : -EAGAIN;
        }
        size_t len = (size_t)(nul - b->data);
        if (len > b->max_frame)
                return -EMSGSIZE;

        *out = (mtt_proto_frame){.data = b->data, .len = len};
        /* Sets are in order and a set whose read began before this message has at == 0. */
        if (b->n_sets > 0 && b->sets[0].at == 0) {
                out->set = &b->sets[0];
                out->fds = out->set->fds;
                out->n_fds = out->set->n;
        }
        b->consumed = len + 1;
        b->scanned = b->consumed;
        return 0;
}

bool mtt_proto_inbuf_partial(const mtt_proto_inbuf *b)
{
        return b->len > b->consumed;
}

int mtt_proto_frame_take_fd(mtt_proto_frame *f, size_t i)
{
        if (!f->set || i >= f->n_fds || f->set->fds[i] < 0)
                return -EBADF;
        int fd = f->set->fds[i];
        f->set->fds[i] = -1;
        f->set->claimed = true;
        return fd;
}

void mtt_proto_outbuf_init(mtt_proto_outbuf *b, size_t limit)
{
        memset(b, 0, sizeof(*b));
        b->limit = limit;
}

void mtt_proto_outbuf_free(mtt_proto_outbuf *b)
{
        if (!b)
                return;
        free(b->data);
        memset(b, 0, sizeof(*b));
}

int mtt_proto_outbuf_put(mtt_proto_outbuf *b, const char *msg, size_t len)
{
        if (b->off == b->len)
                b->off = b->len = 0;
        /* The limit bounds what piles up unsent; one message alone always fits. */
        if (b->limit && b->len > b->off && b->len - b->off + len + 1 > b->limit)
                return -ENOBUFS;
        if (b->off > 0 && b->len + len + 1 > b->cap) {
                memmove(b->data, b->data + b->off, b->len - b->off);
                b->len -= b->off;
                b->off = 0;
        }
        if (mtt_grow(&b->data, &b->cap, b->len + len + 1, 1, 1024) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, msg, len);
        b->data[b->len + len] = '\0';
        b->len += len + 1;
        return 0;
}

int mtt_proto_outbuf_flush(mtt_proto_outbuf *b, int sockfd)
{
        while (b->off < b->len) {
                ssize_t n =
                    send(sockfd, b->data + b->off, b->len - b->off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        return -errno;
                }
                b->off += (size_t)n;
        }
        b->off = b->len = 0;
        return 0;
}

bool mtt_proto_outbuf_pending(const mtt_proto_outbuf *b)
{
        return b->off < b->len;
}

int mtt_proto_send_all(int sockfd, const char *data, size_t len, const int *fds, size_t n_fds)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * MTT_PROTO_MAX_FDS)];
        } control;
        if (n_fds > MTT_PROTO_MAX_FDS)
                return -EINVAL;
        size_t off = 0;
        while (off < len) {
                struct iovec iov = {.iov_base = (char *)data + off, .iov_len = len - off};
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
                if (off == 0 && n_fds > 0) {
                        /* The fds ride on the message's first byte, as sd-varlink sends them. */
                        memset(&control, 0, sizeof(control));
                        mh.msg_control = &control;
                        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
                }
                ssize_t n = sendmsg(sockfd, &mh, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t)n;
        }
        return 0;
}

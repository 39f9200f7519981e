/* Varlink framing: NUL-ended JSON messages on a UNIX stream socket, with SCM_RIGHTS fds
 * carried on the first byte of the message that names them. Pure buffers plus the two
 * syscalls that fill and drain them; no event loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define MTT_PROTO_MAX_FRAME  (64 * 1024)        /* bytes of one call, NUL excluded */
#define MTT_PROTO_MAX_REPLY  (16 * 1024 * 1024) /* bytes of one reply a client accepts */
#define MTT_PROTO_MAX_FDS    8                  /* fds one message may carry */
#define MTT_PROTO_MAX_FDSETS 4                  /* messages with fds waiting in one input buffer */

/* fds that came with one read. A sender puts them on the first byte of the message they go
 * with, but the kernel may hand that message over in one read with the messages before it
 * (or a sender may pack several in one sendmsg), so every message that starts within the
 * read is offered them; the first that takes one claims the set. What nobody takes is
 * closed once those messages are consumed. */
typedef struct mtt_proto_fdset {
        size_t at, end; /* the read's bytes in the buffer */
        size_t n;
        int fds[MTT_PROTO_MAX_FDS]; /* -1 once taken */
        bool claimed;
} mtt_proto_fdset;

typedef struct mtt_proto_inbuf {
        char *data;
        size_t len;      /* bytes held */
        size_t cap;      /* bytes allocated */
        size_t scanned;  /* bytes from the start known to hold no NUL */
        size_t consumed; /* bytes of the frame last returned, dropped on the next call */
        size_t max_frame;
        mtt_proto_fdset sets[MTT_PROTO_MAX_FDSETS];
        size_t n_sets;
        /* How the fds it drops are closed (NULL: close(2)). A daemon hands them to a thread:
         * closing a client's file may wait on the file system's server (a FUSE flush). */
        void (*close_fd)(void *ctx, int fd);
        void *close_ctx;
} mtt_proto_inbuf;

typedef struct mtt_proto_frame {
        const char *data; /* NUL-terminated; valid until the next call on the buffer */
        size_t len;       /* without the NUL */
        size_t n_fds;     /* fds offered to this message: look, take with take_fd */
        const int *fds;   /* owned by the buffer unless taken; -1 once taken */
        mtt_proto_fdset *set;
} mtt_proto_frame;

void mtt_proto_inbuf_init(mtt_proto_inbuf *b, size_t max_frame);
/* Frees the buffer and closes every fd it still holds. Accepts a zeroed buffer. */
void mtt_proto_inbuf_free(mtt_proto_inbuf *b);

/* Appends bytes as if read from the socket, with the fds that read brought (a message must
 * start within the chunk). Takes the fds in every case (closed on error).
 * Returns 0, -EPROTO (fds that start no message, too many sets) or -ENOMEM. */
int mtt_proto_inbuf_feed(mtt_proto_inbuf *b, const void *data, size_t len, const int *fds,
                         size_t n_fds);

/* One recvmsg() into the buffer (MSG_DONTWAIT, MSG_CMSG_CLOEXEC).
 * Returns bytes read (> 0), 0 at end of stream, or -errno (-EAGAIN when nothing is there,
 * -EMSGSIZE when a message outgrows the frame cap, -EPROTO for truncated or misplaced fds). */
long mtt_proto_inbuf_recv(mtt_proto_inbuf *b, int sockfd);

/* Returns 0 and the next whole message, -EAGAIN when more bytes are needed, or -EMSGSIZE
 * when the message being received is larger than the cap. */
int mtt_proto_inbuf_next(mtt_proto_inbuf *b, mtt_proto_frame *out);

/* True while bytes of an unfinished message are held. */
bool mtt_proto_inbuf_partial(const mtt_proto_inbuf *b);

/* Takes offered fd i: the caller owns it from now on. Returns the fd, or -EBADF when there is
 * none (no fd i, or taken already). */
int mtt_proto_frame_take_fd(mtt_proto_frame *f, size_t i);

typedef struct mtt_proto_outbuf {
        char *data;
        size_t len;   /* bytes held, sent ones included */
        size_t off;   /* bytes already sent */
        size_t cap;   /* bytes allocated */
        size_t limit; /* most unsent bytes allowed, beyond one message */
} mtt_proto_outbuf;

void mtt_proto_outbuf_init(mtt_proto_outbuf *b, size_t limit);
void mtt_proto_outbuf_free(mtt_proto_outbuf *b);
/* Queues bytes plus the terminating NUL. -ENOBUFS when unsent bytes would pass the limit
 * (a message into an empty buffer always fits), -ENOMEM. */
int mtt_proto_outbuf_put(mtt_proto_outbuf *b, const char *msg, size_t len);
/* Sends what it can without blocking. Returns 0 or -errno; bytes the socket could not take
 * yet stay pending (mtt_proto_outbuf_pending). */
int mtt_proto_outbuf_flush(mtt_proto_outbuf *b, int sockfd);
bool mtt_proto_outbuf_pending(const mtt_proto_outbuf *b);

/* Blocking send of a whole message (NUL included by the caller), fds on its first byte. */
int mtt_proto_send_all(int sockfd, const char *data, size_t len, const int *fds, size_t n_fds);

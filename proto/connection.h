/* A client's blocking varlink connection: connect, send a call, wait for its reply. */
#pragma once

#include "frame.h"
#include "message.h"

typedef struct mtt_proto_conn {
        int fd;
        mtt_proto_inbuf in;
} mtt_proto_conn;

/* Connects to a UNIX socket path (close-on-exec). Returns 0 or -errno. */
int mtt_proto_conn_open(mtt_proto_conn *c, const char *path);
/* Closes the socket; accepts a connection that never opened (fd -1 or zeroed). */
void mtt_proto_conn_close(mtt_proto_conn *c);

int mtt_proto_conn_send(mtt_proto_conn *c, const json_t *msg, const int *fds, size_t n_fds);
/* Waits up to timeout_ms (-1: forever) for the next reply. -ETIMEDOUT, -ECONNRESET when the
 * service hung up, -EBADMSG for a reply that is not varlink. */
int mtt_proto_conn_recv(mtt_proto_conn *c, int timeout_ms, mtt_proto_reply *out);

/* One call and its reply. Steals params. A varlink error reply is returned in *out with
 * 0: the caller reads out->error. */
int mtt_proto_conn_call(mtt_proto_conn *c, const char *method, json_t *params, const int *fds,
                        size_t n_fds, int timeout_ms, mtt_proto_reply *out);

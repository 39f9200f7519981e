/* Closes clients' fds off the event loop: the close of a file on a FUSE or network file
 * system may wait for its server (a flush), which another user may keep from answering. */
#pragma once

#include <ev.h>

typedef struct mttd_closer mttd_closer;

int mttd_closer_new(struct ev_loop *loop, mttd_closer **out);
/* fds not yet closed are closed here (at exit). Accepts NULL. */
void mttd_closer_free(mttd_closer *c);
/* Closes fd on a thread of its own pool (or here, should no thread start); the signature of
 * mtt_proto_inbuf's close_fd. */
void mttd_closer_close(void *closer, int fd);

/* The varlink server: the listening socket, accepted connections with their buffers and
 * peer credentials, and the flow of calls into the methods. */
#pragma once

#include <ev.h>

#include "config.h"
#include "tracker.h"

typedef struct mttd_server mttd_server;

/* Serves on an already listening socket (taken). */
int mttd_server_new(struct ev_loop *loop, const mttd_config *cfg, mttd_tracker *tracker,
                    int listen_fd, mttd_server **out);
/* Closes every connection (their sessions crash) and the listening socket. Accepts NULL. */
void mttd_server_free(mttd_server *srv);
void mttd_server_stop_accepting(mttd_server *srv);
/* Connections open, and how many of them a Watch streams to. */
void mttd_server_counts(const mttd_server *srv, unsigned *connections, unsigned *watchers);
/* The tracker's hooks. Finished: Close (and Open) replies that waited for s go out, and
 * watchers hear of its end. Written: the Open reply that waited for s's first write goes
 * out. Opened and row: what watchers of s hear. */
void mttd_server_session_finished(mttd_server *srv, mttd_session *s);
void mttd_server_session_written(mttd_server *srv, mttd_session *s);
void mttd_server_session_opened(mttd_server *srv, mttd_session *s);
void mttd_server_row(mttd_server *srv, const mttd_session *s, uint64_t t_us, double ram_gib);
/* The GPU read that calls waited for is back or late: they are handled again. */
void mttd_server_gpus_told(mttd_server *srv);

/* What outlives mttd (keep.h). */
/* Takes up a connection an earlier mttd kept, as number id (fd taken). 0 or -errno. */
int mttd_server_adopt(mttd_server *srv, int fd, uint64_t id);
/* The owner of sessions that connection id had, its client's uid and process (a peer
 * made for it); NULL when it did not come back. */
mttd_owner *mttd_server_owner(mttd_server *srv, uint64_t id, uid_t *uid, struct mttd_peer **peer);
/* ... it watched session watch (0: every session), kept under name: it watches again (or
 * hears that the session ended). After the sessions are taken up. */
void mttd_server_adopt_watch(mttd_server *srv, uint64_t id, uint64_t watch, const char *name);
/* A session was taken up: the reply its client waited for (Open, Close) waits again. */
void mttd_server_adopted(mttd_server *srv, mttd_session *s);
/* No more calls or connections: a new mttd takes them up (replies that wait still go). */
void mttd_server_hand_over(mttd_server *srv);
/* At the end of a handover: what replies wait in buffers go now, as far as the sockets
 * take them without waiting (what is left is logged, lost). */
void mttd_server_send_pending(mttd_server *srv);
/* Each fd a new mttd needs by name (the listening socket, the connections that hold
 * sessions or watch), to fn until it fails; its answer. */
typedef int (*mttd_server_keep_fn)(void *ctx, const char *name, int fd);
int mttd_server_kept(mttd_server *srv, mttd_server_keep_fn fn, void *ctx);

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
/* The tracker's hooks. Finished: Close (and Open) replies that waited for s go out, and
 * watchers hear of its end. Written: the Open reply that waited for s's first write goes
 * out. Opened and row: what watchers of s hear. */
void mttd_server_session_finished(mttd_server *srv, mttd_session *s);
void mttd_server_session_written(mttd_server *srv, mttd_session *s);
void mttd_server_session_opened(mttd_server *srv, mttd_session *s);
void mttd_server_row(mttd_server *srv, const mttd_session *s, uint64_t t_us, double ram_gib);

/* The tracker: the one meminfo reader, the tick that samples it and fans the sample out to
 * every running session, the baseline ring, the sessions (running and recently ended) and
 * the writer pool. Sockets stay outside: connections are opaque owner/waiter pointers. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"
#include "fdkind.h"
#include "meminfo.h"
#include "session.h"

typedef struct mttd_tracker mttd_tracker;

/* What one read of meminfo buys: samples taken, rows they became, session feeds they served. */
typedef struct mttd_tracker_stats {
        uint64_t samples;
        uint64_t rows_written;
        uint64_t sessions_served;
} mttd_tracker_stats;

/* What the tracker tells its owner. */
typedef struct mttd_tracker_hooks {
        /* A session is finished: its report is written, synced and closed (or failed for
         * good). */
        void (*finished)(void *ctx, mttd_session *s);
        /* Shutdown is complete: every report is flushed, or the wait timed out. */
        void (*drained)(void *ctx);
        /* A session opened; told only while someone watches every session. */
        void (*opened)(void *ctx, mttd_session *s);
        /* A session's first write came back: its report has its header and first row (or
         * the write failed: its state says so). The reply to its Open waited for this. */
        void (*written)(void *ctx, mttd_session *s);
        /* The number of running sessions changed (may be NULL). */
        void (*running)(void *ctx, unsigned running);
        /* A watched session made a row: its CSV line, as it goes into the report. */
        mttd_row_hook row;
        void *ctx;
} mttd_tracker_hooks;

int mttd_tracker_new(struct ev_loop *loop, const mttd_config *cfg, const mttd_tracker_hooks *hooks,
                     mttd_tracker **out);
void mttd_tracker_free(mttd_tracker *t);

/* Opens a session writing to fd (of kind; taken on success) for the peer at the other end
 * of peer_sock (-1 if none); a process or cgroup scope measures the process of pidfd (whose
 * pid is p->pid; taken, also on failure; -1 for the system scope). Returns 1 while its first
 * write is in flight (the written callback tells when it is back, or the finished one if
 * the session ends first), 0 when it is done already; -EUSERS when a limit is hit, -EIO
 * when meminfo cannot be read, -ESRCH or -ENOENT when the scope's process or cgroup is not
 * there. */
int mttd_tracker_open(mttd_tracker *t, const mttd_session_params *p, int fd,
                      const mttd_fd_kind *kind, int pidfd, const struct ucred *peer, int peer_sock,
                      void *owner, mttd_session **out);
/* Ends a running session. Returns 1 while its end is not yet told (the report synced, and
 * after a hangup its cause known: the finished callback tells when), 0 when it was. */
int mttd_tracker_close(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause);
/* Whether a connection is the heartbeat of a running session. */
bool mttd_tracker_owns_running(const mttd_tracker *t, const void *owner);
/* A connection went away: its running sessions crashed. */
void mttd_tracker_hangup(mttd_tracker *t, void *owner);
/* Someone starts (+1) or stops (-1) watching s, or every session when s is NULL: the rows
 * of watched sessions go to the row hook. */
void mttd_tracker_watch(mttd_tracker *t, mttd_session *s, int delta);
/* Ends every session and calls the drained callback once all reports are flushed. */
void mttd_tracker_shutdown(mttd_tracker *t);

mttd_session *mttd_tracker_find(mttd_tracker *t, uint64_t id);
/* Sessions oldest first; iterate with s->next. */
mttd_session *mttd_tracker_first(mttd_tracker *t);
unsigned mttd_tracker_running(const mttd_tracker *t);
const mttd_config *mttd_tracker_config(const mttd_tracker *t);

const mttd_tracker_stats *mttd_tracker_stats_of(const mttd_tracker *t);
/* What a session's status needs from the tracker now. */
void mttd_tracker_view(const mttd_tracker *t, mttd_session_view *v);

/* A fresh reading of meminfo. */
int mttd_tracker_sample(mttd_tracker *t, mttd_meminfo *out);

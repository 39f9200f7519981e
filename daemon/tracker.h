/* The tracker: the sessions' lives. Open, Close, a client's hangup and the cause found for
 * it, watchers and shutdown, on top of the session table (table.h), the tick that samples
 * and fans out (tick.h) and the write scheduling (flush.h). Sockets stay outside: a session's
 * connection is an opaque owner and its client process a peer object (peer.h). */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "fdkind.h"
#include "meminfo.h"
#include "proto/ending.h"
#include "session.h"
#include "table.h"
#include "tick.h"

typedef struct mttd_tracker mttd_tracker;
typedef mttd_tick_stats mttd_tracker_stats;

/* A connection as the tracker sees it: what it counts of the connection's sessions. */
typedef struct mttd_owner {
        uint64_t id;      /* the connection's number, unique in this mttd and its successors */
        unsigned running; /* its sessions that run: while any does, it is not idle */
        bool kept;        /* it is in systemd's store (keep.h) */
} mttd_owner;

/* Who opens a session. */
typedef struct mttd_opener {
        uid_t uid;
        pid_t pid;
        mttd_owner *owner;      /* its connection: the session's heartbeat */
        struct mttd_peer *peer; /* its client process (a reference is taken), or NULL */
} mttd_opener;

/* What the tracker tells its owner. */
typedef struct mttd_tracker_hooks {
        /* A session is finished: its report is written, synced and closed (or failed for
         * good), and its end is told from now on (ANNOUNCED). */
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
        /* The GPU read that calls waited for is back or late: they may go on (gpus.h). */
        void (*gpus_told)(void *ctx);
        /* A watched session made a row. */
        mttd_row_hook row;
        void *ctx;
} mttd_tracker_hooks;

int mttd_tracker_new(struct ev_loop *loop, const mttd_config *cfg, const mttd_tracker_hooks *hooks,
                     mttd_tracker **out);
void mttd_tracker_free(mttd_tracker *t);

/* Opens a session writing to fd (of kind; taken on success) for by; a process or cgroup
 * scope measures the process of pidfd (whose pid is p->pid; taken, also on failure; -1 for
 * the system scope). *written tells whether its first write is back already; when not, the
 * written hook tells when it is (or the finished one, if the session ends first). 0, or
 * -EUSERS when a limit is hit, -ESHUTDOWN while mttd stops, -EIO when meminfo cannot be
 * read, -ESRCH or -ENOENT when the scope's process or cgroup is not there, -ENOMEM. */
int mttd_tracker_open(mttd_tracker *t, const mttd_session_params *p, int fd,
                      const mttd_fd_kind *kind, int pidfd, const mttd_opener *by,
                      mttd_session **out, bool *written);
/* Ends a running session as its Close says. *told: its end is told already (ANNOUNCED);
 * when not, the finished hook tells when (the report synced, and after a hangup its cause
 * known). */
void mttd_tracker_close(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause,
                        bool *told);
/* A connection went away: its running sessions crashed. */
void mttd_tracker_hangup(mttd_tracker *t, mttd_owner *owner);
/* Someone starts (+1) or stops (-1) watching s, or every session when s is NULL: the rows
 * of watched sessions go to the row hook. */
void mttd_tracker_watch(mttd_tracker *t, mttd_session *s, int delta);
/* Ends every session and calls the drained callback once all reports are flushed. */
void mttd_tracker_shutdown(mttd_tracker *t);
/* Stops for a new mttd to take the sessions up (keep.h): no more rows; Closes whose read is
 * out end; what is buffered is written; the drained callback says when (or at the stop
 * timeout). Sessions keep running; hangups end none from now on. */
void mttd_tracker_hand_over(mttd_tracker *t);
bool mttd_tracker_handing_over(const mttd_tracker *t);
/* Writes every unfinished session's state (after the drain). The count that failed. */
int mttd_tracker_keep_all(mttd_tracker *t);
/* Takes up a session an earlier mttd kept (keep.h), with its report fd and its process's
 * pidfd (both taken; -1 when not kept), its connection's owner and client (NULL when its
 * client is gone) and when its state was saved (the gap). *why: NULL, or why it cannot go
 * on (its state says so, or set here: no report fd, its process gone). 0: it is in the
 * table, to be resumed (mttd_tracker_resume) once the replies its client waits for wait
 * again; -ENOMEM (the caller frees s). */
int mttd_tracker_adopt(mttd_tracker *t, mttd_session *s, int report_fd, int pidfd,
                       mttd_owner *owner, struct mttd_peer *peer, uint64_t saved_us,
                       const char **why);
/* It goes on where it was (rows, its first write, its Close's end or its last write), or,
 * with why, ends in error saying so (its status, the journal, its client at its Close). */
void mttd_tracker_resume(mttd_tracker *t, mttd_session *s, const char *why);
/* Every session taken up is resumed: the tick is armed (once, not once a session). */
void mttd_tracker_resumed(mttd_tracker *t);
/* A kept session whose state cannot be read at all: listed in error for uid with why. */
int mttd_tracker_unresumable(mttd_tracker *t, uint64_t id, uid_t uid, const char *why);

mttd_session *mttd_tracker_find(mttd_tracker *t, uint64_t id);
/* Sessions oldest first; iterate with mttd_table_next. */
mttd_session *mttd_tracker_first(mttd_tracker *t);
unsigned mttd_tracker_running(const mttd_tracker *t);
const mttd_config *mttd_tracker_config(const mttd_tracker *t);

const mttd_tracker_stats *mttd_tracker_stats_of(const mttd_tracker *t);

/* What this mttd counted since it started (the metrics file's counters). */
typedef struct mttd_tracker_counts {
        uint64_t opened;
        /* Sessions whose end was told, by their state and their cause's class. */
        uint64_t ended[MTTD_STATES][MTT_PROTO_CAUSE_CLASSES];
        uint64_t write_errors; /* ... of them, those whose report could not be written */
} mttd_tracker_counts;
const mttd_tracker_counts *mttd_tracker_counts_of(const mttd_tracker *t);
/* What a session's status needs from the tracker now. */
void mttd_tracker_view(const mttd_tracker *t, mttd_session_view *v);

/* A fresh reading of meminfo. */
int mttd_tracker_sample(mttd_tracker *t, mttd_meminfo *out);
/* The GPUs' reader (gpus.h): whether NVML is there, and the latest reading. */
struct mttd_gpus *mttd_tracker_gpus(mttd_tracker *t);

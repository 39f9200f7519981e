/* One tracking session: its phase, clock, row selection, baseline, buffered report text, and
 * the write items that carry that text to the client's fd. The session table owns sessions;
 * the tick feeds them, flush.c writes them, the tracker takes them through their lives; this
 * module alone changes their phase, and knows nothing of sockets. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "rows.h"
#include "source.h"
#include "writer.h"

typedef enum mttd_state {
        MTTD_RUNNING,
        MTTD_COMPLETED,
        MTTD_FAILED,
        MTTD_CRASHED,
        MTTD_ERROR,
} mttd_state;
#define MTTD_STATES 5

const char *mttd_state_name(mttd_state s);

typedef struct mttd_session_params {
        const char *label;
        const char *job; /* the workload manager's job it runs in; NULL: none */
        mttd_scope scope;
        pid_t pid; /* process, cgroup and gpu scopes: whose (0: the client's) */
        int gpu;   /* gpu-device scope: the one GPU it measures, or -1 for all */
        bool calibrate;
        bool truncate; /* its file is emptied at its first write (a regular file's) */
        uint64_t min_interval_us;
        uint64_t max_interval_us;
        int64_t peak_min_kb;
} mttd_session_params;

struct mttd_session;
/* Where the rows of a watched session go besides its report. */
typedef struct mttd_row_hook {
        /* The row's numbers: its delta in microseconds, its ram in GiB as the report has it
         * (rounded to its six decimals). */
        void (*fn)(void *ctx, const struct mttd_session *s, uint64_t t_us, double ram_gib);
        void *ctx;
} mttd_row_hook;

#define MTTD_OVERLAP_LABELS 8

/* A session's life, in order; each step is taken in this module alone (the others ask).
 * STARTING -> RUNNING -> (CLOSING ->) ENDED -> CLOSED -> ANNOUNCED; a session whose report
 * cannot be written at all goes from any phase before CLOSED to CLOSED at once. */
typedef enum mttd_phase {
        MTTD_PHASE_STARTING,  /* open; its process tree's first value is not in: no rows yet */
        MTTD_PHASE_RUNNING,   /* making rows */
        MTTD_PHASE_CLOSING,   /* Closed: ends once its process tree is read after the Close */
        MTTD_PHASE_ENDED,     /* ended (or its report broke): the last write is to go or out */
        MTTD_PHASE_CLOSED,    /* the last write is back, the fd closed */
        MTTD_PHASE_ANNOUNCED, /* its end was told (log, Close replies, watchers) */
} mttd_phase;

/* Reads of its process tree a running session waits for (bits of mttd_session.waits). */
enum {
        MTTD_WAIT_VALUE = 1, /* the first value: its rows start with it */
        MTTD_WAIT_ROW = 2,   /* a read made for its due row */
        MTTD_WAIT_END = 4,   /* a read made after its Close */
};

/* Its user's share of the writer threads, for a report that may stall. */
typedef enum mttd_share { MTTD_SHARE_NONE, MTTD_SHARE_WAITING, MTTD_SHARE_HELD } mttd_share;

typedef struct mttd_session {
        TAILQ_ENTRY(mttd_session) link; /* the session table's, oldest first */
        uint64_t id;
        char *label;
        char *job; /* the workload manager's job it ran in (Open's job), NULL: none */
        pid_t pid;
        uid_t uid;
        mttd_phase phase;
        mttd_state state;   /* what List and Status say: running until it ended */
        mttd_state outcome; /* what the session's end said it was; MTTD_RUNNING until then */
        char *cause;        /* why it ended, when known */
        bool cause_awaited; /* ended by a hangup: its cause is being found, the end not told */
        int write_error;    /* -errno of a failed write, 0 if none */

        uint64_t started_wall_us;
        uint64_t t0_us;  /* monotonic at open */
        uint64_t end_us; /* monotonic at the end, 0 while running */
        bool calibrate;
        double baseline_kb;
        mttd_rows rows;
        uint64_t n_rows;
        uint64_t samples_at_open, samples_at_end; /* mttd's sample count then */
        int64_t last_kb, peak_kb;                 /* as of the last sample it was given */
        size_t hot; /* its place in the tick's hot array while running */

        /* Its report: text not yet handed to a writer, and the writes that carry it. */
        int fd; /* the client's report fd, -1 once handed to the last write */
        char *text;
        size_t text_len, text_cap;
        uint64_t last_sync_us;
        uint64_t writes_done, synced_writes; /* writes back, and how many a sync covered */
        bool writing;                        /* a write item is with the writer */
        bool syncing;                        /* a sync of its own is with the writer */
        uint64_t write_since_us;             /* ... since then */
        bool first_written;                  /* its first write (the header) is back */
        bool may_stall;                      /* its fd may block: never share a write job */
        bool regular;                        /* its fd is a regular file */
        bool truncate;                       /* its first write empties the file first */
        dev_t dev;                           /* the file system of its fd */
        mttd_share share;

        struct mttd_owner *owner;     /* the connection whose lifetime is the session's heartbeat */
        unsigned watchers;            /* connections that watch this session alone */
        bool watched;                 /* anyone watches it: its rows go to the row hook too */
        const mttd_row_hook *telling; /* that hook, during a call that makes rows only */
        struct mttd_peer *peer;       /* its client process, while an end without Close may come */
        mttd_source *source;          /* while running: what it measures; NULL for the system */
        mttd_scope scope;
        pid_t tracked_pid; /* process, cgroup and gpu scopes */
        int gpu;           /* gpu-device scope: the one GPU, or -1 for all */
        unsigned waits;    /* MTTD_WAIT_* */
        /* Interference: sessions that ran at the same time, how many of them were other
         * users', and the first few labels of its own user's. */
        unsigned overlaps, overlaps_other_users, n_overlapped;
        char *overlapped[MTTD_OVERLAP_LABELS];
        /* What outlives mttd (keep.h): its state's memfd (-1: not kept), the count of its
         * state's writes, and the restarts of mttd it went through, the last one's gap. */
        int state_fd;
        bool pidfd_kept; /* a pidfd of its own is in systemd's store */
        uint64_t keep_seq;
        unsigned restarts;
        uint64_t restart_gap_us;
        mttd_state end_outcome; /* CLOSING: what the Close said */
        char *end_cause;
        uint64_t end_requested_us;
} mttd_session;

/* Creates a session whose report starts with the header, STARTING. Takes fd on success. */
int mttd_session_new(uint64_t id, const mttd_session_params *p, pid_t pid, uid_t uid, int fd,
                     uint64_t now_us, int64_t kb, double baseline_kb, mttd_session **out);
void mttd_session_free(mttd_session *s);
/* A session made anew from its snapshot (snapshot.h) takes up where it was: its phase, its
 * rows' position (rows: the schedule and points; the sink is its own) and the text not yet
 * written, which replaces the header mttd_session_new put there. 0 or -ENOMEM. */
int mttd_session_resume(mttd_session *s, mttd_phase phase, const mttd_rows *rows, const char *text,
                        size_t len);

/* STARTING -> RUNNING: the row at delta 0 (after a watcher, if any, heard of the session).
 * With own_value, kb is its source's first value (a process tree's, which it waited for):
 * the value of that row, and its baseline when calibrated. */
void mttd_session_begin(mttd_session *s, int64_t kb, bool own_value, const mttd_row_hook *hook);
/* RUNNING -> CLOSING: a Close said how it ended; it ends once its tree is read again. */
void mttd_session_closing(mttd_session *s, uint64_t now_us, mttd_state outcome, const char *cause);
/* STARTING, RUNNING or CLOSING -> ENDED: last row and the ending for the state (a session
 * still STARTING begins first, with kb). -EALREADY if it ended. awaits_cause: its cause
 * comes later (a hangup); the end is not told until it does (mttd_session_cause). */
int mttd_session_end(mttd_session *s, uint64_t now_us, int64_t kb, mttd_state state,
                     const char *cause, bool awaits_cause, const mttd_row_hook *hook);
/* The report is broken (err, a -errno): -> ENDED in error, its buffered text is
 * dropped; its fd is closed by its last write, when nothing else is in flight. */
void mttd_session_fail(mttd_session *s, int err, uint64_t now_us);
/* A new mttd could not take it up (cause says why): it ends in error with no more rows,
 * ENDED (its buffered text still to be written), or CLOSED when it has no fd; one that had
 * ended is in error all the same (its ending may be lost). */
void mttd_session_unresumable(mttd_session *s, const char *cause, uint64_t now_us);
/* The report cannot be written at all (err, a -errno): its fd is closed here and
 * it goes to CLOSED at once. */
void mttd_session_abandon(mttd_session *s, int err, uint64_t now_us);
/* The cause of a hangup is known (NULL: no more waiting for it, what is known stands). */
void mttd_session_cause(mttd_session *s, const char *cause);
/* CLOSED -> ANNOUNCED, when its cause is not awaited. Returns whether it moved. */
bool mttd_session_announce(mttd_session *s);

static inline bool mttd_session_running(const mttd_session *s)
{
        return s->phase <= MTTD_PHASE_CLOSING;
}
/* Its rows have started (the row at 0) and it still makes them. */
static inline bool mttd_session_making_rows(const mttd_session *s)
{
        return s->phase == MTTD_PHASE_RUNNING || s->phase == MTTD_PHASE_CLOSING;
}
/* Its last write is back: the fd is closed. */
static inline bool mttd_session_finished(const mttd_session *s)
{
        return s->phase >= MTTD_PHASE_CLOSED;
}

/* It starts waiting for a read of its process tree (one of MTTD_WAIT_*); false if it
 * waited already. */
bool mttd_session_wait(mttd_session *s, unsigned what);
/* ... stops waiting; false if it did not wait. */
bool mttd_session_unwait(mttd_session *s, unsigned what);

/* The functions that make rows (begin, feed, end) hand them to hook too while the session
 * is watched (hook may be NULL). */
void mttd_session_feed(mttd_session *s, uint64_t now_us, int64_t kb, const mttd_row_hook *hook);
/* Whether buffered rows are due for a write (a starting session's header is not: it goes
 * with the first row, or alone once the first read is late). */
bool mttd_session_text_due(const mttd_session *s);
/* Whether a sync is due: writes since the last sync, and the interval passed. */
bool mttd_session_sync_due(const mttd_session *s, uint64_t now_us, uint64_t sync_interval_us);
/* Whether an ended session's last write (sync and close) can go: nothing else in flight. */
bool mttd_session_last_due(const mttd_session *s);
/* Moves the buffered text into a write item; for an ended session the last write. */
void mttd_session_take_write(mttd_session *s, uint64_t now_us, bool with_sync,
                             mttd_write_item *item);
/* A sync on its own, apart from the writes, so a slow sync never holds up the next rows. */
void mttd_session_take_sync(mttd_session *s, uint64_t now_us, mttd_write_item *item);

/* What a write item that came back means for its session. */
typedef struct mttd_write_result {
        bool first;    /* its first write: the report has its header */
        bool finished; /* it was the last write: ENDED -> CLOSED */
        bool again;    /* its last write is due at once */
} mttd_write_result;
/* An item of this session never reached a writer (err, a -errno): its fd is closed
 * if the item held it, and the session ends in error, CLOSED unless another item of it is
 * still in flight (that one's return closes it). */
void mttd_session_write_lost(mttd_session *s, const mttd_write_item *item, int err,
                             uint64_t now_us);
/* An item of this session came back. */
mttd_write_result mttd_session_write_done(mttd_session *s, const mttd_write_item *item,
                                          uint64_t now_us);

double mttd_session_gib(const mttd_session *s, int64_t kb);
/* Another session ran at the same time as s. */
void mttd_session_overlap(mttd_session *s, const mttd_session *other);
/* What the tracker knows now, for a running session's status. */
typedef struct mttd_session_view {
        uint64_t now_us;
        uint64_t stall_after_us;
        int64_t current_kb; /* the latest sample (a running session is not given each one) */
        uint64_t samples;   /* mttd's sample count */
} mttd_session_view;

/* Its latest value and its peak now, in kB (not above the baseline). */
void mttd_session_values(const mttd_session *s, const mttd_session_view *v, int64_t *last_kb,
                         int64_t *peak_kb);
json_t *mttd_session_json(const mttd_session *s, const mttd_session_view *v);

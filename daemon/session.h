/* One tracking session: its clock, row selection, baseline, buffered report text, and the
 * write jobs that carry that text to the client's fd. The tracker owns sessions and drives
 * them; this module knows nothing of sockets. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
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

const char *mttd_state_name(mttd_state s);

typedef struct mttd_session_params {
        const char *label;
        mttd_scope scope;
        pid_t pid; /* process and cgroup scopes: whose (0: the client's) */
        bool calibrate;
        uint64_t min_interval_us;
        uint64_t max_interval_us;
        int64_t peak_min_kb;
} mttd_session_params;

struct mttd_session;
/* Where the rows of a watched session go besides its report. */
typedef struct mttd_row_hook {
        void (*fn)(void *ctx, struct mttd_session *s, const char *line, size_t len);
        void *ctx;
} mttd_row_hook;

#define MTTD_OVERLAP_LABELS 8

typedef struct mttd_session {
        struct mttd_session *prev, *next; /* the tracker's list, oldest first */
        uint64_t id;
        char *label;
        pid_t pid;
        uid_t uid;
        mttd_state state;
        mttd_state outcome; /* what the session's end said it was; MTTD_RUNNING until then */
        char *cause;        /* why it ended, when known */
        int write_error;    /* errno of a failed write, 0 if none */

        uint64_t started_wall_us;
        uint64_t t0_us;  /* monotonic at open */
        uint64_t end_us; /* monotonic at the end, 0 while running */
        bool calibrate;
        double baseline_kb;
        mttd_rows rows;
        uint64_t n_rows;
        uint64_t samples_at_open, samples_at_end; /* mttd's sample count then */
        int64_t last_kb, peak_kb;                 /* as of the last sample it was given */
        size_t hot; /* its place in the tracker's hot array while running */

        int fd;     /* the client's report fd, -1 once handed to the last job */
        char *text; /* report text not yet handed to a writer */
        size_t text_len, text_cap;
        uint64_t oldest_text_us; /* when the oldest unwritten row was made */
        uint64_t last_sync_us;
        uint64_t writes_done, synced_writes; /* writes back, and how many a sync covered */
        bool syncing;                        /* a sync of its own is with the writer */
        bool may_stall;                      /* its fd may block: never share a write job */
        bool regular;                        /* its fd is a regular file */
        dev_t dev;                           /* the file system of its fd */
        bool writing;                        /* a write item is with the writer */
        uint64_t write_since_us;             /* ... since then */
        bool first_written;                  /* its first write (the header) is back */
        bool begun;                          /* its rows have started (the row at 0) */
        bool finished;                       /* the last write is done: the fd is closed */
        bool announced;     /* ... and its end was told (log, Close replies, watchers) */
        bool share_counted; /* its write in flight counts against its user's share */
        bool deferred;      /* its write waits for its user's share (may_stall only) */

        void *owner;                /* the connection whose lifetime is the session's heartbeat */
        unsigned watchers;          /* connections that watch this session alone */
        const mttd_row_hook *watch; /* set while anyone watches it */
        struct mttd_peer *peer;     /* its client process, while an end without Close may come */
        mttd_source *source;        /* while running: what it measures; NULL for the system */
        mttd_scope scope;
        pid_t tracked_pid; /* process and cgroup scopes */
        /* Interference: sessions that ran at the same time, how many of them were other
         * users', and the first few labels of its own user's. */
        unsigned overlaps, overlaps_other_users, n_overlapped;
        char *overlapped[MTTD_OVERLAP_LABELS];
        bool row_waits_read;    /* its row is due: made once its tree is read for it */
        bool end_requested;     /* Closed: ends once its tree is read after the Close */
        mttd_state end_outcome; /* ... with what the Close said */
        char *end_cause;
        uint64_t end_requested_us;
        bool cause_pending;  /* ended by a hangup: its cause is being found */
        bool finish_pending; /* ... and its report is done: announce it once the cause is in */
} mttd_session;

/* Creates a running session whose report starts with the header. Takes fd on success. */
int mttd_session_new(uint64_t id, const mttd_session_params *p, pid_t pid, uid_t uid, int fd,
                     uint64_t now_us, int64_t kb, double baseline_kb, mttd_session **out);
/* Makes the row at delta 0 (after a watcher, if any, heard of the session). */
void mttd_session_begin(mttd_session *s);
void mttd_session_free(mttd_session *s);

void mttd_session_feed(mttd_session *s, uint64_t now_us, int64_t kb);
/* Whether buffered rows are due for a write: older than delay_us, or a lot of them. */
bool mttd_session_text_due(const mttd_session *s, uint64_t now_us, uint64_t delay_us);
/* Whether a sync is due: writes since the last sync, and the interval passed. */
bool mttd_session_sync_due(const mttd_session *s, uint64_t now_us, uint64_t sync_interval_us);
/* Whether an ended session's last write (sync and close) can go: nothing else in flight. */
bool mttd_session_last_due(const mttd_session *s);
/* Moves the buffered text into a write item; for an ended session the last write. */
void mttd_session_take_write(mttd_session *s, uint64_t now_us, bool with_sync,
                             mttd_write_item *item);
/* A sync on its own, apart from the writes, so a slow sync never holds up the next rows. */
void mttd_session_take_sync(mttd_session *s, uint64_t now_us, mttd_write_item *item);
/* An item of this session came back. Returns true when the session is finished; sets
 * *again when another write is due at once (its last one). */
bool mttd_session_write_done(mttd_session *s, const mttd_write_item *item, uint64_t now_us,
                             bool *again);
/* Ends a running session: last row and the ending for the state. -EALREADY if it ended. */
int mttd_session_end(mttd_session *s, uint64_t now_us, int64_t kb, mttd_state state,
                     const char *cause);

/* The report is broken (err, a positive errno): the session ends in error, its buffered
 * text is dropped; its fd is closed by its last write, when nothing else is in flight. */
void mttd_session_fail(mttd_session *s, int err, uint64_t now_us);
/* The report cannot be written at all (err, a positive errno): close the fd here, end in
 * error, finished. */
void mttd_session_abandon(mttd_session *s, int err, uint64_t now_us);

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

json_t *mttd_session_json(const mttd_session *s, const mttd_session_view *v);

/* The tick: the one meminfo reader, the timer that samples it and the fan-out of each sample
 * to the running sessions it concerns. Running sessions sit in a dense "hot" array (what a
 * fine tick looks at without touching the sessions) and, when their rows come faster than
 * the fine interval, in a heap by due time. The sources of the other scopes are shared here:
 * cgroups read on the loop, process trees by the sampler's threads. A session's own steps
 * are session.c's; what a read that came back means for its life is the owner's (hooks). */
#pragma once

#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "flush.h"
#include "meminfo.h"
#include "table.h"

typedef struct mttd_tick mttd_tick;

/* What one read of meminfo buys: samples taken, rows they became, session feeds they served. */
typedef struct mttd_tick_stats {
        uint64_t samples;
        uint64_t rows_written;
        uint64_t sessions_served;
} mttd_tick_stats;

typedef struct mttd_tick_hooks {
        /* Ten times a second while sessions wait for reads: those waiting too long. */
        void (*late_check)(void *ctx, uint64_t now_us);
        /* A STARTING session's source has its first value: its rows may start. */
        void (*first_value)(void *ctx, mttd_session *s, int64_t kb, uint64_t now_us);
        /* A CLOSING session's process tree was read after its Close: it may end. */
        void (*end_read)(void *ctx, mttd_session *s);
        /* The GPU read that callers waited for is back, or late (gpus.h; may be NULL). */
        void (*gpus_told)(void *ctx);
        void *ctx;
} mttd_tick_hooks;

int mttd_tick_new(struct ev_loop *loop, const mttd_config *cfg, mttd_table *table,
                  mttd_flush *flush, const mttd_tick_hooks *hooks, mttd_tick **out);
void mttd_tick_free(mttd_tick *t);

/* The level of a session of uid opening now in sp's scope: its source (NULL for the
 * system; for a process or cgroup held by pidfd, taken) and its value and baseline (see
 * README "The baseline"). -EIO when meminfo cannot be read, -ESRCH when the scope's
 * process or cgroup cannot be read. */
int mttd_tick_level_at_open(mttd_tick *t, const mttd_session_params *sp, int pidfd, uid_t uid,
                            uint64_t now_us, mttd_source **src, int64_t *kb, double *baseline_kb);
/* Gives back a source taken at Open when the session could not be made. */
void mttd_tick_release(mttd_tick *t, mttd_source *src);
/* Room for one more running session, so that adding cannot fail. 0 or -ENOMEM. */
int mttd_tick_reserve(mttd_tick *t);
/* A new session runs (added to the table first): counted at the sample taken for it, fanned
 * out to from now on. */
void mttd_tick_add(mttd_tick *t, mttd_session *s);
/* A session a new mttd took over (keep.h) runs here (added to the table first): its source
 * made again (pidfd, taken: the process it measured; -1 for the system scope), and its rows
 * go on from the next value (a process tree's: once read). 0, -EBADF with no pidfd for a
 * scope that needs one, -ESRCH or -ENOENT when its process or cgroup is gone. */
int mttd_tick_adopt(mttd_tick *t, mttd_session *s, int pidfd);
/* Its rows started (mttd_session_begin): it is due by its schedule from now on. */
void mttd_tick_started(mttd_tick *t, mttd_session *s, uint64_t rows_before);
/* It stops running: what it waited for and its source are let go. */
void mttd_tick_remove(mttd_tick *t, mttd_session *s);
/* Ends a running session now (mttd_session_end) with its value now: a fresh sample, or its
 * process tree's latest read (no read here: it may block); then it stops running. */
void mttd_tick_end(mttd_tick *t, mttd_session *s, mttd_state outcome, const char *cause,
                   bool awaits_cause);
/* Feeds a running session a value now (a read for its row or its Close). */
void mttd_tick_feed(mttd_tick *t, mttd_session *s, uint64_t now_us, int64_t kb);
/* A CLOSING session waits for a read of its tree made now (false: nothing to wait for). The
 * reads back since the last tick count first. */
bool mttd_tick_read_for_end(mttd_tick *t, mttd_session *s, uint64_t now_us);
/* A session stops waiting for a read of its process tree (MTTD_WAIT_*). */
void mttd_tick_unwait(mttd_tick *t, mttd_session *s, unsigned what);
/* Whether sessions wait for a read to end or to start (the late checks are worth it). */
bool mttd_tick_reads_awaited(const mttd_tick *t);

/* Running sessions, for a look at each (newest last; a session that leaves while the caller
 * goes down from n-1 moves the last one into its place). */
size_t mttd_tick_n_running(const mttd_tick *t);
mttd_session *mttd_tick_running_at(const mttd_tick *t, size_t i);

/* Arms the next tick (the next fine sample, due row or writer check). */
void mttd_tick_arm(mttd_tick *t);
/* No more ticks (shutdown). */
void mttd_tick_stop(mttd_tick *t);

/* The system's OOM kill count as of the last second. */
long long mttd_tick_oom_system(const mttd_tick *t);
const mttd_tick_stats *mttd_tick_stats_of(const mttd_tick *t);
/* A fresh reading of meminfo; the latest sample. */
int mttd_tick_sample(mttd_tick *t, mttd_meminfo *out);
int64_t mttd_tick_last_kb(const mttd_tick *t);
/* The GPUs' reader (gpus.h). */
struct mttd_gpus *mttd_tick_gpus(mttd_tick *t);

/* The tick: sampling, the due heap, sources and the fan-out. */
#include "tick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "baseline.h"
#include "clock.h"
#include "due.h"
#include "gpus.h"
#include "log.h"
#include "common/procfs.h"
#include "sampler.h"
#include "ticker.h"

/* A running session as a fine tick sees it: when its next row is due and the highest
 * sample since its last row, without touching the session. */
typedef struct hot {
        uint64_t due_us;
        int64_t max_kb;
        mttd_session *s;
        mttd_source *src; /* NULL: the system sample */
} hot;

struct mttd_tick {
        struct ev_loop *loop;
        const mttd_config *cfg;
        mttd_table *table;
        mttd_flush *flush;
        mttd_tick_hooks hooks;

        mttd_meminfo_reader reader;
        bool reader_failed; /* logged once */
        mttd_baseline baseline;
        mttd_ticker ticker;
        mttd_tick_stats stats;
        int64_t last_kb;       /* the latest sample */
        uint64_t tick;         /* counts reads, so a source is read once per tick */
        uint64_t next_full_us; /* next sample for every session (the fine rate) */
        mttd_due due;          /* running sessions by next row, those faster than fine */
        bool due_dirty;        /* a session left: rebuild before use */
        hot *hot;              /* running sessions, densely */
        size_t n_hot, cap_hot;

        LIST_HEAD(, mttd_source) sources; /* of running sessions, shared */
        mttd_sampler *sampler;            /* reads the process-tree sources, off the loop */
        unsigned n_process_sources;
        mttd_gpus *gpus;             /* reads the GPUs (the GPU sources, Sample), off the loop */
        unsigned n_waiting[3];       /* sessions waiting for each kind of read (MTTD_WAIT_*) */
        uint64_t next_late_check_us; /* when those waiting too long are looked at */
        long long oom_system;        /* the system's OOM kill count, as of oom_system_us */
        uint64_t oom_system_us;
        bool stopped;
};

static unsigned *waiting_of(mttd_tick *t, unsigned what)
{
        return &t->n_waiting[what == MTTD_WAIT_VALUE ? 0 : what == MTTD_WAIT_ROW ? 1 : 2];
}

/* A session starts or stops waiting for a read of its process tree: counted in all and per
 * source, so a read that comes back looks at sessions only when some of its own wait. */
static void wait_for(mttd_tick *t, mttd_session *s, unsigned what)
{
        if (mttd_session_wait(s, what)) {
                (*waiting_of(t, what))++;
                s->source->waiting++;
        }
}

void mttd_tick_unwait(mttd_tick *t, mttd_session *s, unsigned what)
{
        if (mttd_session_unwait(s, what)) {
                (*waiting_of(t, what))--;
                s->source->waiting--;
        }
}

bool mttd_tick_reads_awaited(const mttd_tick *t)
{
        return t->n_waiting[0] + t->n_waiting[2] > 0;
}

/* Reads meminfo; on failure logs once and returns -errno. */
static int read_kb(mttd_tick *t, int64_t *kb)
{
        mttd_meminfo m;
        int r = mttd_meminfo_read(&t->reader, &m);
        if (r < 0) {
                if (!t->reader_failed)
                        mttd_log(LOG_ERR, "cannot read %s: %s", t->cfg->meminfo_path, strerror(-r));
                t->reader_failed = true;
                return r;
        }
        t->reader_failed = false;
        *kb = t->last_kb = mttd_meminfo_used_kb(&m);
        return 0;
}

/* The next tick: the next fine sample or the next due row while sessions run. While none
 * runs, no sample is taken (the baseline is taken at Open): the only tick is one that keeps
 * an eye on writes still queued (see on_tick), and an idle mttd does not wake up at all. */
void mttd_tick_arm(mttd_tick *t)
{
        if (t->table->n_running == 0 || t->stopped) {
                if (mttd_flush_pending(t->flush) > 0)
                        mttd_ticker_arm(&t->ticker, mttd_now_us() + MTTD_WRITER_STALLED_US);
                else
                        mttd_ticker_disarm(&t->ticker);
                return;
        }
        uint64_t at = t->next_full_us;
        const mttd_due_entry *top = mttd_due_top(&t->due);
        if (top && top->at_us < at)
                at = top->at_us;
        mttd_ticker_arm(&t->ticker, at);
}

void mttd_tick_stop(mttd_tick *t)
{
        t->stopped = true;
        mttd_ticker_disarm(&t->ticker);
}

static uint64_t due_at(const mttd_session *s)
{
        return s->t0_us + mttd_rows_next_due(&s->rows);
}

/* Only sessions whose rows come faster than the fine interval need ticks of their own: the
 * others are fed at every fine tick, which serves their row at most one fine interval late.
 * Ticks for every session's own row time would wake mttd thousands of times a second. */
static void due_push(mttd_tick *t, mttd_session *s)
{
        uint64_t elapsed = mttd_rows_next_due(&s->rows);
        if (mttd_schedule_interval(&s->rows.schedule, elapsed) < t->cfg->fine_interval_us)
                mttd_due_push(&t->due, due_at(s), s);
}

static void rebuild_due(mttd_tick *t)
{
        mttd_due_clear(&t->due);
        for (size_t i = 0; i < t->n_hot; i++)
                if (mttd_session_making_rows(t->hot[i].s))
                        due_push(t, t->hot[i].s);
        t->due_dirty = false;
}

/* The hot entry of a session after its rows module moved on. */
static void hot_refresh(mttd_tick *t, mttd_session *s)
{
        hot *h = &t->hot[s->hot];
        h->due_us = due_at(s);
        h->max_kb = s->rows.have_max ? s->rows.max.kb : INT64_MIN;
}

int mttd_tick_reserve(mttd_tick *t)
{
        return mtt_grow(&t->hot, &t->cap_hot, t->n_hot + 1, sizeof(*t->hot), 64);
}

size_t mttd_tick_n_running(const mttd_tick *t)
{
        return t->n_hot;
}

mttd_session *mttd_tick_running_at(const mttd_tick *t, size_t i)
{
        return t->hot[i].s;
}

/* A source's value at this tick. A cgroup is read once, whoever asks; a process tree's
 * value is what the sampler read last. A source that cannot be read gives its last value (a
 * tree whose root is gone: 0), so the sessions' schedules go on. */
static int64_t source_kb(mttd_tick *t, mttd_source *src)
{
        if (src->scope == MTTD_SCOPE_CGROUP && src->read_tick != t->tick) {
                src->read_tick = t->tick;
                mttd_source_read(src);
        }
        return src->kb;
}

/* The source for a session of uid in scope for pid (held by pidfd, taken) or GPU gpu: one
 * already read for another session of uid if it measures the same, else a new one (a cgroup
 * read at Open by the caller, a process tree by the sampler and GPUs by their thread from
 * now on). */
static int source_take(mttd_tick *t, mttd_scope scope, pid_t pid, int pidfd, int gpu, uid_t uid,
                       mttd_source **out)
{
        mttd_source *src;
        int r = mttd_source_new(scope, pid, pidfd, gpu, uid, &src);
        if (r < 0)
                return r;
        mttd_source *o;
        LIST_FOREACH(o, &t->sources, link)
        if (mttd_source_same(o, src)) {
                mttd_source_free(src);
                o->users++;
                *out = o;
                return 0;
        }
        if (scope == MTTD_SCOPE_PROCESS) {
                r = mttd_sampler_add(t->sampler, src, mttd_now_us());
                if (r < 0) {
                        mttd_source_free(src);
                        return r;
                }
                t->n_process_sources++;
        } else if (mttd_scope_is_gpu(scope)) {
                r = mttd_gpus_add(t->gpus, src, mttd_now_us());
                if (r < 0) {
                        mttd_source_free(src);
                        return r;
                }
        }
        src->users = 1;
        LIST_INSERT_HEAD(&t->sources, src, link);
        *out = src;
        return 0;
}

void mttd_tick_release(mttd_tick *t, mttd_source *src)
{
        if (!src || --src->users > 0)
                return;
        LIST_REMOVE(src, link);
        if (mttd_scope_is_gpu(src->scope)) {
                mttd_gpus_remove(t->gpus, src); /* freed once its read, if out, is back */
                return;
        }
        if (src->scope != MTTD_SCOPE_PROCESS) {
                mttd_source_free(src);
                return;
        }
        t->n_process_sources--;
        mttd_sampler_remove(t->sampler, src); /* freed once its read, if out, is back */
}

/* The system's OOM kill count, read again once a second while sessions run (it is a long
 * file): what a hangup compares with, so that only an OOM kill in the second before it can
 * be taken for the client's. */
static void refresh_oom_system(mttd_tick *t, uint64_t now_us)
{
        if (now_us - t->oom_system_us < 1000000)
                return;
        t->oom_system = mtt_procfs_oom_system(MTT_PROCFS_ROOT);
        t->oom_system_us = now_us;
}

long long mttd_tick_oom_system(const mttd_tick *t)
{
        return t->oom_system;
}

int mttd_tick_level_at_open(mttd_tick *t, const mttd_session_params *sp, int pidfd, uid_t uid,
                            uint64_t now_us, mttd_source **src, int64_t *kb, double *baseline_kb)
{
        *src = NULL;
        if (read_kb(t, kb) < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                return -EIO;
        }
        /* The system's level: this fresh sample with the recent ones at its level. */
        *baseline_kb = mttd_baseline_at(&t->baseline, now_us, *kb, t->cfg->calibration_us,
                                        t->cfg->baseline_band_kb);
        mttd_baseline_add(&t->baseline, now_us, *kb);
        refresh_oom_system(t, now_us);
        if (sp->scope == MTTD_SCOPE_SYSTEM)
                return 0;
        /* Another scope's level is its source's value now: a cgroup's read now, a process
         * tree's or the GPUs' as read last off the loop (a new one's comes a moment later:
         * the session waits for it). */
        int r = source_take(t, sp->scope, sp->pid, pidfd, sp->gpu, uid, src);
        if (r < 0)
                return r;
        if (mttd_scope_read_off_loop((*src)->scope)) {
                *kb = mttd_source_ready(*src) ? (*src)->kb : 0;
        } else {
                t->tick++;
                *kb = source_kb(t, *src);
                if ((*src)->error < 0) {
                        mttd_tick_release(t, *src);
                        *src = NULL;
                        return -ESRCH;
                }
        }
        *baseline_kb = (double)*kb;
        return 0;
}

void mttd_tick_add(mttd_tick *t, mttd_session *s)
{
        t->stats.samples++; /* the sample taken for it counts */
        s->samples_at_open = t->stats.samples - 1;
        s->hot = t->n_hot++;
        t->hot[s->hot] = (hot){.s = s, .src = s->source};
        hot_refresh(t, s);
        /* A new process tree's first value is a moment away: the session waits for it. */
        if (s->source && !mttd_source_ready(s->source))
                wait_for(t, s, MTTD_WAIT_VALUE);
        /* The first to run (the table counts it already): fine ticks start now. */
        if (t->table->n_running == 1)
                t->next_full_us = mttd_now_us() + t->cfg->fine_interval_us;
}

int mttd_tick_adopt(mttd_tick *t, mttd_session *s, int pidfd)
{
        s->source = NULL;
        if (s->scope != MTTD_SCOPE_SYSTEM) {
                if (pidfd < 0 && mttd_scope_has_process(s->scope))
                        return -EBADF;
                int r = source_take(t, s->scope, s->tracked_pid, pidfd, s->gpu, s->uid, &s->source);
                if (r < 0)
                        return r;
        } else if (pidfd >= 0) {
                close(pidfd);
        }
        mttd_tick_add(t, s);
        if (mttd_session_making_rows(s)) /* its rows go on from the next value */
                mttd_tick_started(t, s, s->n_rows);
        return 0;
}

void mttd_tick_started(mttd_tick *t, mttd_session *s, uint64_t rows_before)
{
        mttd_tick_unwait(t, s, MTTD_WAIT_VALUE);
        t->stats.rows_written += s->n_rows - rows_before;
        hot_refresh(t, s);
        due_push(t, s);
}

void mttd_tick_remove(mttd_tick *t, mttd_session *s)
{
        t->due_dirty = true;
        hot *last = &t->hot[--t->n_hot];
        t->hot[s->hot] = *last;
        last->s->hot = s->hot;
        /* What it waited for, it waits for no more (a write failed meanwhile). */
        if (s->source) {
                mttd_tick_unwait(t, s, MTTD_WAIT_VALUE);
                mttd_tick_unwait(t, s, MTTD_WAIT_ROW);
                mttd_tick_unwait(t, s, MTTD_WAIT_END);
        }
        s->samples_at_end = t->stats.samples;
        mttd_tick_release(t, s->source);
        s->source = NULL;
}

void mttd_tick_feed(mttd_tick *t, mttd_session *s, uint64_t now_us, int64_t kb)
{
        uint64_t rows = s->n_rows;
        mttd_session_feed(s, now_us, kb, &t->table->row);
        t->stats.rows_written += s->n_rows - rows;
        if (mttd_session_running(s))
                hot_refresh(t, s);
}

void mttd_tick_end(mttd_tick *t, mttd_session *s, mttd_state outcome, const char *cause,
                   bool awaits_cause)
{
        uint64_t now = mttd_now_us();
        int64_t kb = s->last_kb;
        if (read_kb(t, &kb) == 0)
                t->stats.samples++;
        t->tick++;
        if (s->source)
                kb = mttd_source_ready(s->source) ? source_kb(t, s->source) : s->last_kb;
        uint64_t rows = s->n_rows;
        mttd_session_end(s, now, kb, outcome, cause, awaits_cause, &t->table->row);
        t->stats.rows_written += s->n_rows - rows;
        mttd_tick_remove(t, s);
}

/* The reads off the loop back since the last tick. */
static void collect(mttd_tick *t)
{
        if (t->n_process_sources > 0)
                mttd_sampler_collect(t->sampler);
        if (mttd_gpus_sources(t->gpus) > 0)
                mttd_gpus_collect(t->gpus);
}

/* A read of src made from now on, off the loop. */
static void read_now(mttd_tick *t, mttd_source *src, uint64_t now_us)
{
        if (src->scope == MTTD_SCOPE_PROCESS)
                mttd_sampler_read_now(t->sampler, src, now_us);
        else
                mttd_gpus_read_now(t->gpus, src, now_us);
}

bool mttd_tick_read_for_end(mttd_tick *t, mttd_session *s, uint64_t now_us)
{
        if (!s->source || !mttd_scope_read_off_loop(s->source->scope) || t->stopped)
                return false;
        /* A read back since the last tick counts first (a short run's peak may be in it
         * alone). */
        collect(t);
        if (mttd_source_ready(s->source))
                mttd_tick_feed(t, s, now_us, s->source->kb);
        wait_for(t, s, MTTD_WAIT_END);
        read_now(t, s->source, now_us);
        return true;
}

/* The sampler read src: sessions that waited for it go on. From the newest hot entry
 * down, since one that ends leaves the array (its place taken by the last, seen already). */
static void on_source_answered(void *ctx, mttd_source *src)
{
        mttd_tick *t = ctx;
        if (src->waiting == 0 || !mttd_source_ready(src) || t->stopped)
                return;
        uint64_t now = mttd_now_us();
        for (size_t i = t->n_hot; i-- > 0;) {
                if (i >= t->n_hot) /* a session ended below took entries with it */
                        continue;
                mttd_session *s = t->hot[i].s;
                if (s->source != src)
                        continue;
                if (s->phase == MTTD_PHASE_STARTING) {
                        t->hooks.first_value(t->hooks.ctx, s, src->kb, now);
                } else if (s->phase == MTTD_PHASE_CLOSING && src->read_us >= s->end_requested_us) {
                        t->hooks.end_read(t->hooks.ctx, s); /* the read made after its Close */
                } else if ((s->waits & MTTD_WAIT_ROW) && src->read_us >= due_at(s)) {
                        mttd_tick_unwait(t, s, MTTD_WAIT_ROW); /* the read made for its row */
                        mttd_tick_feed(t, s, now, src->kb);
                        t->stats.sessions_served++;
                        due_push(t, s);
                }
        }
        mttd_tick_arm(t); /* rows started or made here may be due before the next tick */
}

/* Every fine interval all running sessions get the sample (so peaks between rows are seen);
 * a sample that is neither due nor above a session's highest since its last row changes
 * nothing for it: most sessions are not even touched. */
static void fan_out(mttd_tick *t, uint64_t now, int64_t kb)
{
        /* The reads off the loop of the last tick, for this one. */
        collect(t);
        for (size_t i = 0; i < t->n_hot; i++) {
                hot *h = &t->hot[i];
                /* A process tree whose read is late (or not back yet) makes no rows: the
                 * report shows the gap, never invented values. */
                if (h->src && (!mttd_source_ready(h->src) || h->s->phase == MTTD_PHASE_STARTING))
                        continue;
                int64_t v = h->src ? source_kb(t, h->src) : kb;
                if (now >= h->due_us || v > h->max_kb)
                        mttd_tick_feed(t, h->s, now, v);
        }
        t->stats.sessions_served += t->n_hot;
        t->next_full_us = now + t->cfg->fine_interval_us;
        if (t->n_process_sources > 0)
                mttd_sampler_tick(t->sampler, now);
        if (mttd_gpus_sources(t->gpus) > 0)
                mttd_gpus_tick(t->gpus, now);
        refresh_oom_system(t, now);
}

/* Sessions due now get this sample (once) and, having written their row, a new due time
 * later than now. */
static void serve_due(mttd_tick *t, uint64_t now, int64_t kb)
{
        if (t->due_dirty)
                rebuild_due(t);
        const mttd_due_entry *top = mttd_due_top(&t->due);
        for (; top && top->at_us <= now; top = mttd_due_top(&t->due)) {
                mttd_session *s = mttd_due_pop(&t->due);
                if (s->source && !mttd_source_ready(s->source)) { /* asks again later */
                        mttd_due_push(&t->due, now + t->cfg->fine_interval_us, s);
                        continue;
                }
                /* A young session's rows come faster than the fine ticks: a source read off
                 * the loop is read for its row, which is made when that read is back
                 * (on_source_answered), not from the read of the last tick. */
                if (s->source && mttd_scope_read_off_loop(s->source->scope) && due_at(s) <= now &&
                    s->source->read_us < due_at(s)) {
                        if (!(s->waits & MTTD_WAIT_ROW)) {
                                wait_for(t, s, MTTD_WAIT_ROW);
                                read_now(t, s->source, now);
                        }
                        continue;
                }
                if (due_at(s) <= now) {
                        mttd_tick_feed(t, s, now, s->source ? source_kb(t, s->source) : kb);
                        t->stats.sessions_served++;
                }
                due_push(t, s);
        }
}

/* One meminfo read serves every session due now: every fine interval all running ones,
 * between those only the sessions whose row is due. */
static void on_tick(void *ctx)
{
        mttd_tick *t = ctx;
        uint64_t now = mttd_now_us();
        int64_t kb;
        if (t->table->n_running == 0) {
                /* No sample: a queued last write behind threads that have since stalled
                 * gets a thread of its own (the check a submit makes, made again). */
                mttd_flush_poke(t->flush);
                mttd_tick_arm(t);
                return;
        }
        if (read_kb(t, &kb) < 0) {
                /* No sample this time; rows already made still go out, and the next try
                 * waits its turn rather than spinning. */
                t->next_full_us = now + t->cfg->fine_interval_us;
                mttd_flush_due(t->flush, now);
                mttd_tick_arm(t);
                return;
        }
        t->stats.samples++;
        t->tick++;
        mttd_baseline_add(&t->baseline, now, kb);
        if (now >= t->next_full_us) {
                fan_out(t, now, kb);
                /* Read timeouts are checked ten times a second, not at every tick: sessions
                 * that wait for ever (a read the kernel holds) cost one look each time. */
                if (mttd_tick_reads_awaited(t) && now >= t->next_late_check_us) {
                        t->next_late_check_us = now + 100000;
                        t->hooks.late_check(t->hooks.ctx, now);
                }
                mttd_flush_due(t->flush, now);
        }
        serve_due(t, now, kb);
        mttd_table_trim(t->table);
        mttd_tick_arm(t);
}

static void on_gpus_told(void *ctx)
{
        mttd_tick *t = ctx;
        if (t->hooks.gpus_told)
                t->hooks.gpus_told(t->hooks.ctx);
}

int mttd_tick_new(struct ev_loop *loop, const mttd_config *cfg, mttd_table *table,
                  mttd_flush *flush, const mttd_tick_hooks *hooks, mttd_tick **out)
{
        mttd_tick *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (mttd_tick){.loop = loop, .cfg = cfg, .table = table, .flush = flush, .hooks = *hooks};
        t->reader.fd = -1;
        t->ticker.fd = -1;
        mttd_due_init(&t->due);
        /* Keep about one sample per 10 ms: enough for a mean, bounded in memory. */
        mttd_baseline_init(&t->baseline, 10000);
        int r = mttd_meminfo_reader_open(&t->reader, cfg->meminfo_path);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot open %s: %s", cfg->meminfo_path, strerror(-r));
                goto fail;
        }
        int64_t kb;
        r = read_kb(t, &kb);
        if (r < 0)
                goto fail;
        r = mttd_sampler_new(loop, cfg, on_source_answered, t, &t->sampler);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot start the sampler threads: %s", strerror(-r));
                goto fail;
        }
        const mttd_gpus_hooks gh = {.answered = on_source_answered, .told = on_gpus_told, .ctx = t};
        r = mttd_gpus_new(loop, cfg, MTT_PROCFS_ROOT, &gh, &t->gpus);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot start the GPU thread: %s", strerror(-r));
                goto fail;
        }
        r = mttd_ticker_init(&t->ticker, loop, on_tick, t);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot create a timerfd: %s", strerror(-r));
                goto fail;
        }
        *out = t;
        return 0;
fail:
        mttd_tick_free(t);
        return r;
}

void mttd_tick_free(mttd_tick *t)
{
        if (!t)
                return;
        mttd_ticker_done(&t->ticker);
        /* A thread stuck in a read keeps copies of what it reads (pids, pidfd numbers), not
         * the sources, which go below. */
        mttd_sampler_free(t->sampler);
        mttd_gpus_free(t->gpus);
        mttd_due_free(&t->due);
        mttd_source *src;
        while ((src = LIST_FIRST(&t->sources))) {
                LIST_REMOVE(src, link);
                mttd_source_free(src);
        }
        free(t->hot);
        mttd_meminfo_reader_close(&t->reader);
        free(t);
}

const mttd_tick_stats *mttd_tick_stats_of(const mttd_tick *t)
{
        return &t->stats;
}

int mttd_tick_sample(mttd_tick *t, mttd_meminfo *out)
{
        return mttd_meminfo_read(&t->reader, out);
}

int64_t mttd_tick_last_kb(const mttd_tick *t)
{
        return t->last_kb;
}

mttd_gpus *mttd_tick_gpus(mttd_tick *t)
{
        return t->gpus;
}

/* Write scheduling: lanes, per-user shares, batches and what to do when a write cannot go. */
#include "flush.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "keep.h"
#include "log.h"
#include "shares.h"

struct mttd_flush {
        const mttd_config *cfg;
        mttd_table *table;
        mttd_flush_hooks hooks;
        mttd_writer *writer;    /* reports that cannot stall: shared jobs of local files */
        mttd_writer *stalls;    /* reports that may stall (pipes, ttys, network mounts) */
        mttd_shares shares;     /* writes in flight to fds that may stall, per user */
        unsigned n_deferred;    /* sessions whose write waits for its user's share */
        uint64_t next_batch_us; /* next shared write of the fds that cannot stall */
        bool stopped;
};

/* Each lane has its own threads: no pipe nobody reads holds up a local file's rows. */
static mttd_writer *lane_of(const mttd_flush *f, const mttd_session *s)
{
        return s->may_stall ? f->stalls : f->writer;
}

/* An item that never reached a writer: its session is told, then its owner. */
static void lost(mttd_flush *f, const mttd_write_item *item, int err, uint64_t now_us)
{
        mttd_session *s = item->owner;
        bool was_running = mttd_session_running(s);
        bool finished = mttd_session_finished(s);
        mttd_session_write_lost(s, item, err, now_us);
        if (!finished)
                f->hooks.broke(f->hooks.ctx, s, was_running);
}

static void submit_shared(mttd_flush *f, mttd_write_job *job, uint64_t now_us)
{
        if (mttd_writer_submit(f->writer, job) == 0)
                return;
        /* No thread at all would take it: these reports cannot be written. */
        for (size_t i = 0; i < job->n; i++)
                lost(f, &job->items[i], -EAGAIN, now_us);
        mttd_write_job_free(job);
}

/* Gives a session's due write a job of its own (its last write, or an fd that may stall). */
static void write_alone(mttd_flush *f, mttd_session *s, uint64_t now_us, bool with_sync)
{
        mttd_write_job *job = mttd_write_job_new(1);
        if (!job) {
                bool was_running = mttd_session_running(s);
                mttd_session_abandon(s, -ENOMEM, now_us);
                f->hooks.broke(f->hooks.ctx, s, was_running);
                return;
        }
        mttd_write_item item;
        mttd_session_take_write(s, now_us, with_sync, &item);
        mttd_keep_progress(s, &item);
        mttd_write_job_add(job, &item);
        if (mttd_writer_submit(lane_of(f, s), job) < 0) {
                /* The fd and the text are in the job: whatever it held is lost with it. */
                lost(f, &item, -EAGAIN, now_us);
                mttd_write_job_free(job);
        }
}

/* Adds an item to a shared job, sending the job when it is full. */
static void add_shared(mttd_flush *f, mttd_write_job **job, const mttd_write_item *item,
                       uint64_t now_us)
{
        if (!*job && !(*job = mttd_write_job_new(MTTD_WRITER_BATCH_MAX))) {
                /* Out of memory: this item's text (and fd, for a last write) is lost. */
                free(item->data);
                lost(f, item, -ENOMEM, now_us);
                return;
        }
        mttd_write_job_add(*job, item);
        if ((*job)->n == (*job)->cap) {
                submit_shared(f, *job, now_us);
                *job = NULL;
        }
}

/* Writes a session whose fd may stall, if its user has fewer than cfg->max_blocking_per_uid
 * such writes in flight: one user's pipes that nobody reads hold that many writer threads
 * at most, and other users' pipes and terminals still get theirs. Otherwise the session's
 * rows wait in its buffer until one of its user's writes comes back. */
static void write_blocking(mttd_flush *f, mttd_session *s, uint64_t now_us, bool with_sync)
{
        if (mttd_shares_in_flight(&f->shares, s->uid) >= f->cfg->max_blocking_per_uid ||
            mttd_shares_add(&f->shares, s->uid) < 0) {
                f->n_deferred += s->share != MTTD_SHARE_WAITING;
                s->share = MTTD_SHARE_WAITING;
                return;
        }
        f->n_deferred -= s->share == MTTD_SHARE_WAITING;
        s->share = MTTD_SHARE_HELD;
        write_alone(f, s, now_us, with_sync);
        if (!s->writing) { /* it never went out */
                s->share = MTTD_SHARE_NONE;
                mttd_shares_remove(&f->shares, s->uid);
        }
}

void mttd_flush_soon(mttd_flush *f, mttd_session *s, uint64_t now_us, bool with_sync)
{
        if (s->may_stall)
                write_blocking(f, s, now_us, with_sync);
        else
                write_alone(f, s, now_us, with_sync);
}

/* A blocking write of uid came back: that user's next waiting write may go. */
static void write_deferred(mttd_flush *f, uid_t uid, uint64_t now_us)
{
        if (f->n_deferred == 0 || f->stopped)
                return;
        mttd_session *d;
        mttd_table_foreach(d, f->table)
        {
                if (d->share != MTTD_SHARE_WAITING || d->uid != uid)
                        continue;
                bool last = !mttd_session_running(d);
                if (last ? mttd_session_last_due(d) : !d->writing) {
                        write_blocking(f, d, now_us, last);
                        return;
                }
        }
}

/* Syncs go in jobs of one file system each (the first few; the rest share the last): a
 * sync of a disk that no longer answers holds up that disk's reports, whose syncs would wait
 * on it all the same, never another file system's. */
#define SYNC_JOBS 8
typedef struct sync_jobs {
        mttd_write_job *job[SYNC_JOBS];
        dev_t dev[SYNC_JOBS];
        size_t n;
} sync_jobs;

static mttd_write_job **sync_job_of(sync_jobs *sj, dev_t dev)
{
        for (size_t i = 0; i < sj->n; i++)
                if (sj->dev[i] == dev)
                        return &sj->job[i];
        if (sj->n == SYNC_JOBS)
                return &sj->job[SYNC_JOBS - 1];
        sj->dev[sj->n] = dev;
        sj->job[sj->n] = NULL;
        return &sj->job[sj->n++];
}

/* Every flush interval, what running sessions have buffered goes to the writer: the reports
 * whose fds cannot stall in a few shared jobs, their syncs in jobs apart (a slow sync must not
 * hold up the next rows), the others in jobs of their own. Rows reach their file at most one
 * flush interval (and a fine tick) after they were made. */
void mttd_flush_due(mttd_flush *f, uint64_t now_us)
{
        if (now_us < f->next_batch_us)
                return;
        f->next_batch_us = now_us + f->cfg->flush_delay_us;
        mttd_flush_poke(f);
        mttd_write_job *writes = NULL;
        sync_jobs syncs = {.n = 0};
        mttd_session *s;
        mttd_table_foreach(s, f->table)
        {
                if (!mttd_session_running(s)) {
                        /* Its last write went when it ended, unless its user's share of
                         * the writers was taken then. */
                        if (s->may_stall && mttd_session_last_due(s))
                                write_blocking(f, s, now_us, true);
                        continue;
                }
                bool text = mttd_session_text_due(s);
                bool sync = mttd_session_sync_due(s, now_us, f->cfg->sync_interval_us);
                if (s->may_stall) {
                        if ((text || sync) && !s->writing)
                                write_blocking(f, s, now_us, sync);
                        continue;
                }
                mttd_write_item item;
                if (text) {
                        mttd_session_take_write(s, now_us, false, &item);
                        mttd_keep_progress(s, &item);
                        add_shared(f, &writes, &item, now_us);
                }
                if (sync && mttd_session_running(s)) {
                        mttd_session_take_sync(s, now_us, &item);
                        add_shared(f, sync_job_of(&syncs, s->dev), &item, now_us);
                }
        }
        if (writes)
                submit_shared(f, writes, now_us);
        for (size_t i = 0; i < syncs.n; i++)
                if (syncs.job[i])
                        submit_shared(f, syncs.job[i], now_us);
}

void mttd_flush_last(mttd_flush *f, uint64_t now_us)
{
        mttd_write_job *job = NULL;
        mttd_session *s;
        mttd_table_foreach(s, f->table)
        {
                if (!mttd_session_last_due(s))
                        continue;
                if (s->may_stall) {
                        write_alone(f, s, now_us, true);
                        continue;
                }
                mttd_write_item item;
                mttd_session_take_write(s, now_us, true, &item);
                mttd_keep_progress(s, &item);
                add_shared(f, &job, &item, now_us);
        }
        if (job)
                submit_shared(f, job, now_us);
}

void mttd_flush_now(mttd_flush *f, uint64_t now_us)
{
        f->next_batch_us = 0;
        mttd_flush_due(f, now_us);
}

void mttd_flush_stop(mttd_flush *f)
{
        f->stopped = true;
}

size_t mttd_flush_pending(const mttd_flush *f)
{
        return mttd_writer_pending(f->writer) + mttd_writer_pending(f->stalls);
}

void mttd_flush_poke(mttd_flush *f)
{
        mttd_writer_poke(f->writer);
        mttd_writer_poke(f->stalls);
}

/* A local file's write stalled in a shared job (a disk that no longer answers, a file system
 * that is not what its type said): its session's writes go to the lane that may stall from
 * now on, with its user's share, and never hold other reports again. */
static void on_write_stuck(void *ctx, void *owner)
{
        mttd_session *s = owner;
        if (s->may_stall)
                return;
        s->may_stall = true;
        mttd_log(LOG_WARNING, "session %llu: a write of its report has not come back for %.1f s",
                 (unsigned long long)s->id, (double)MTTD_WRITER_ITEM_DEADLINE_US / 1e6);
}

static void on_write_done(void *ctx, mttd_write_item *item)
{
        mttd_flush *f = ctx;
        mttd_session *s = item->owner;
        uint64_t now = mttd_now_us();
        uid_t uid = s->uid;
        bool was_running = mttd_session_running(s);
        mttd_write_result r = mttd_session_write_done(s, item, now);
        bool blocking = s->share == MTTD_SHARE_HELD;
        if (blocking) {
                s->share = MTTD_SHARE_NONE;
                mttd_shares_remove(&f->shares, uid);
        }
        f->hooks.written(f->hooks.ctx, s, r, was_running); /* s may be gone after */
        if (blocking)
                write_deferred(f, uid, now);
}

int mttd_flush_new(struct ev_loop *loop, const mttd_config *cfg, mttd_table *table,
                   const mttd_flush_hooks *hooks, mttd_flush **out)
{
        mttd_flush *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        *f = (mttd_flush){.cfg = cfg, .table = table, .hooks = *hooks};
        int r = mttd_writer_new(loop, cfg->writer_threads, on_write_done, on_write_stuck, f,
                                &f->writer);
        if (r == 0)
                r = mttd_writer_new(loop, cfg->writer_threads, on_write_done, NULL, f, &f->stalls);
        if (r < 0) {
                mttd_flush_free(f);
                return r;
        }
        *out = f;
        return 0;
}

void mttd_flush_free(mttd_flush *f)
{
        if (!f)
                return;
        mttd_writer_free(f->writer);
        mttd_writer_free(f->stalls);
        mttd_shares_free(&f->shares);
        free(f);
}

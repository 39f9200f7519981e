/* Sampling, fan-out and the session table. */
#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "due.h"
#include "peer.h"
#include "sampler.h"
#include "shares.h"
#include "ticker.h"
#include "clock.h"
#include "log.h"

/* After a hangup, how long a client that still runs is given to end. */
#define CAUSE_WAIT_US 500000

struct mttd_tracker {
        struct ev_loop *loop;
        const mttd_config *cfg;
        mttd_tracker_hooks hooks;
        unsigned n_watch_all; /* connections that watch every session */

        mttd_meminfo_reader reader;
        mttd_baseline baseline;
        mttd_writer *writer; /* reports that cannot stall: shared jobs of local files */
        mttd_writer *stalls; /* reports that may stall (pipes, ttys, network mounts) */
        mttd_ticker ticker;
        mttd_due due;           /* running sessions by next row */
        bool due_dirty;         /* a session left: rebuild before use */
        uint64_t next_full_us;  /* next sample for every session (the fine rate) */
        uint64_t next_batch_us; /* next shared write of the fds that cannot stall */
        ev_timer shutdown_timer;
        mttd_tracker_stats stats;
        int64_t last_kb; /* the latest sample */
        /* Running sessions, densely: what a fine tick must look at (when the next row is
         * due, the highest sample since the last row) without touching the sessions. */
        struct hot {
                uint64_t due_us;
                int64_t max_kb;
                mttd_session *s;
                mttd_source *src; /* NULL: the system sample */
        } * hot;
        size_t n_hot, cap_hot;

        mttd_source *sources;  /* of running sessions, shared */
        mttd_sampler *sampler; /* reads the process-tree sources, off the loop */
        unsigned n_process_sources;
        unsigned n_waiting_value;       /* sessions waiting for their source's first value */
        unsigned n_ending;              /* Closed sessions waiting for a read made after it */
        unsigned n_row_waits;           /* due sessions waiting for a read made for their row */
        uint64_t next_late_check_us;    /* ... when those waiting too long are looked at */
        uint64_t tick;                  /* counts reads, so a source is read once per tick */
        mttd_session *head, *tail;      /* every session, oldest first */
        unsigned n_running, n_finished; /* finished: ended and their last write is back */
        uint64_t next_id;
        mttd_shares shares;   /* writes in flight to fds that may stall, per user */
        unsigned n_deferred;  /* sessions whose write waits for its user's share */
        long long oom_system; /* the system's OOM kill count, as of oom_system_us */
        uint64_t oom_system_us;
        bool shutting_down;
        bool stop_timed_out; /* no more waiting for reports that stall */
        bool reader_failed;  /* logged once */
};

static void list_remove(mttd_tracker *t, mttd_session *s)
{
        if (s->prev)
                s->prev->next = s->next;
        else
                t->head = s->next;
        if (s->next)
                s->next->prev = s->prev;
        else
                t->tail = s->prev;
        s->prev = s->next = NULL;
}

static void list_append(mttd_tracker *t, mttd_session *s)
{
        s->prev = t->tail;
        s->next = NULL;
        if (t->tail)
                t->tail->next = s;
        else
                t->head = s;
        t->tail = s;
}

/* Reads meminfo; on failure logs once and returns -errno. */
static int read_kb(mttd_tracker *t, int64_t *kb)
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
static void arm_next(mttd_tracker *t)
{
        if (t->n_running == 0 || t->shutting_down) {
                if (mttd_writer_pending(t->writer) + mttd_writer_pending(t->stalls) > 0)
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

static uint64_t due_at(const mttd_session *s)
{
        return s->t0_us + mttd_rows_next_due(&s->rows);
}

/* Only sessions whose rows come faster than the fine interval need ticks of their own: the
 * others are fed at every fine tick, which serves their row at most one fine interval late.
 * Ticks for every session's own row time would wake mttd thousands of times a second. */
static void due_push(mttd_tracker *t, mttd_session *s)
{
        uint64_t elapsed = mttd_rows_next_due(&s->rows);
        if (mttd_schedule_interval(&s->rows.schedule, elapsed) < t->cfg->fine_interval_us)
                mttd_due_push(&t->due, due_at(s), s);
}

static void rebuild_due(mttd_tracker *t)
{
        mttd_due_clear(&t->due);
        for (mttd_session *s = t->head; s; s = s->next)
                if (s->state == MTTD_RUNNING && s->begun)
                        due_push(t, s);
        t->due_dirty = false;
}

/* The hot entry of a session after its rows module moved on. */
static void hot_refresh(mttd_tracker *t, mttd_session *s)
{
        struct hot *h = &t->hot[s->hot];
        h->due_us = due_at(s);
        h->max_kb = s->rows.have_max ? s->rows.max.kb : INT64_MIN;
}

/* Room for one more running session, so that opening cannot fail halfway. */
static int hot_reserve(mttd_tracker *t)
{
        if (t->n_hot < t->cap_hot)
                return 0;
        size_t cap = t->cap_hot ? t->cap_hot * 2 : 64;
        struct hot *p = realloc(t->hot, cap * sizeof(*p));
        if (!p)
                return -ENOMEM;
        t->hot = p;
        t->cap_hot = cap;
        return 0;
}

static void hot_add(mttd_tracker *t, mttd_session *s)
{
        s->hot = t->n_hot++;
        t->hot[s->hot].s = s;
        t->hot[s->hot].src = s->source;
        hot_refresh(t, s);
}

/* A source's value at this tick. A cgroup is read once, whoever asks; a process tree's
 * value is what the sampler read last. A source that cannot be read gives its last value (a
 * tree whose root is gone: 0), so the sessions' schedules go on. */
static int64_t source_kb(mttd_tracker *t, mttd_source *src)
{
        if (src->scope == MTTD_SCOPE_CGROUP && src->read_tick != t->tick) {
                src->read_tick = t->tick;
                mttd_source_read(src);
        }
        return src->kb;
}

/* The client's pidfd, shared by the sessions of one connection (a client with thousands of
 * sessions holds one). */
static mttd_peer *peer_of(mttd_tracker *t, void *owner, int sock, pid_t pid)
{
        for (size_t i = 0; i < t->n_hot; i++)
                if (t->hot[i].s->owner == owner && t->hot[i].s->peer)
                        return mttd_peer_ref(t->hot[i].s->peer);
        return mttd_peer_new(sock, pid);
}

/* The source for a session of uid in scope for pid (held by pidfd, taken): one already
 * read for another session of uid if it measures the same, else a new one (a cgroup read at
 * Open by the caller, a process tree by the sampler from now on). */
static int source_take(mttd_tracker *t, mttd_scope scope, pid_t pid, int pidfd, uid_t uid,
                       mttd_source **out)
{
        mttd_source *src;
        int r = mttd_source_new(scope, pid, pidfd, uid, &src);
        if (r < 0)
                return r;
        for (mttd_source *o = t->sources; o; o = o->next)
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
        }
        src->users = 1;
        src->next = t->sources;
        if (t->sources)
                t->sources->prev = src;
        t->sources = src;
        *out = src;
        return 0;
}

static void source_release(mttd_tracker *t, mttd_source *src)
{
        if (!src || --src->users > 0)
                return;
        if (src->prev)
                src->prev->next = src->next;
        else
                t->sources = src->next;
        if (src->next)
                src->next->prev = src->prev;
        if (src->scope != MTTD_SCOPE_PROCESS) {
                mttd_source_free(src);
                return;
        }
        t->n_process_sources--;
        mttd_sampler_remove(t->sampler, src); /* freed once its read, if out, is back */
}

static void hot_remove(mttd_tracker *t, mttd_session *s)
{
        struct hot *last = &t->hot[--t->n_hot];
        t->hot[s->hot] = *last;
        last->s->hot = s->hot;
}

static void running_changed(mttd_tracker *t)
{
        if (t->hooks.running)
                t->hooks.running(t->hooks.ctx, t->n_running);
}

/* A session starts (+1) or stops waiting for a read of its process tree: counted in all
 * (counter) and per source, so a read that comes back looks at sessions only when some of
 * its own wait. */
static void wait_more(mttd_tracker *t, mttd_session *s, unsigned *counter)
{
        (*counter)++;
        s->source->waiting++;
}

static void wait_less(mttd_tracker *t, mttd_session *s, unsigned *counter)
{
        (*counter)--;
        s->source->waiting--;
}

/* A session stops running (ended, or its report broke). */
static void left_running(mttd_tracker *t, mttd_session *s)
{
        t->n_running--;
        running_changed(t);
        t->due_dirty = true;
        hot_remove(t, s);
        /* What it waited for, it waits for no more (a write failed meanwhile). */
        if (s->source && !s->begun)
                wait_less(t, s, &t->n_waiting_value);
        if (s->end_requested) {
                s->end_requested = false;
                wait_less(t, s, &t->n_ending);
        }
        if (s->row_waits_read) {
                s->row_waits_read = false;
                wait_less(t, s, &t->n_row_waits);
        }
        s->samples_at_end = t->stats.samples;
        source_release(t, s->source);
        s->source = NULL;
}

static void feed(mttd_tracker *t, mttd_session *s, uint64_t now_us, int64_t kb)
{
        uint64_t rows = s->n_rows;
        mttd_session_feed(s, now_us, kb);
        t->stats.rows_written += s->n_rows - rows;
        hot_refresh(t, s);
}

static mttd_log_session log_fields(const mttd_session *s)
{
        return (mttd_log_session){
            .id = s->id,
            .label = s->label,
            .pid = s->pid,
            .uid = s->uid,
            .outcome = s->state == MTTD_RUNNING     ? NULL
                       : s->outcome == MTTD_RUNNING ? mttd_state_name(s->state)
                                                    : mttd_state_name(s->outcome),
            .cause = s->write_error ? strerror(s->write_error) : s->cause,
        };
}

static void log_end(const mttd_session *s)
{
        mttd_log_session f = log_fields(s);
        if (s->write_error)
                mttd_log_session_event(
                    LOG_WARNING, &f, "session %llu (%s): report write failed: %s",
                    (unsigned long long)s->id, s->label, strerror(s->write_error));
        else
                mttd_log_session_event(
                    LOG_INFO, &f, "session %llu (%s) %s%s%s after %.3f s, %llu rows, peak %.6f GiB",
                    (unsigned long long)s->id, s->label, f.outcome ? f.outcome : "ended",
                    s->cause ? ": " : "", s->cause ? s->cause : "",
                    (double)(s->end_us - s->t0_us) / 1e6, (unsigned long long)s->n_rows,
                    mttd_session_gib(s, s->peak_kb));
}

/* Keeps at most cfg->history finished sessions, the newest. */
static void trim_history(mttd_tracker *t)
{
        mttd_session *s = t->head;
        while (s && t->n_finished > t->cfg->history) {
                mttd_session *next = s->next;
                if (s->announced) {
                        list_remove(t, s);
                        mttd_session_free(s);
                        t->n_finished--;
                }
                s = next;
        }
}

/* Each lane has its own threads: no pipe nobody reads holds up a local file's rows. */
static mttd_writer *lane_of(const mttd_tracker *t, const mttd_session *s)
{
        return s->may_stall ? t->stalls : t->writer;
}

/* Shutdown waits for every report's last write until the shutdown timeout: a pipe nobody
 * reads, a hung NFS server or a local disk that no longer answers does not keep mttd. */
static void maybe_drained(mttd_tracker *t)
{
        if (!t->shutting_down ||
            (mttd_writer_pending(t->writer) + mttd_writer_pending(t->stalls) > 0 &&
             !t->stop_timed_out))
                return;
        ev_timer_stop(t->loop, &t->shutdown_timer);
        t->hooks.drained(t->hooks.ctx);
}

/* A session whose report is done is announced (log, Close replies, watchers), unless the
 * cause of its hangup is still being found: then once it is (cause_settled). */
static void session_finished(mttd_tracker *t, mttd_session *s);
static void finish(mttd_tracker *t, mttd_session *s)
{
        if (s->cause_pending)
                s->finish_pending = true;
        else
                session_finished(t, s);
}

/* History is trimmed later (trim_history), never under a loop over the sessions. */
static void session_finished(mttd_tracker *t, mttd_session *s)
{
        s->announced = true;
        t->n_finished++;
        mttd_peer_unref(s->peer); /* its pidfd is of no more use */
        s->peer = NULL;
        log_end(s);
        t->hooks.finished(t->hooks.ctx, s);
}

static void submit_batch(mttd_tracker *t, mttd_write_job *job, uint64_t now_us)
{
        if (mttd_writer_submit(t->writer, job) == 0)
                return;
        /* No thread at all would take it: these reports cannot be written. */
        for (size_t i = 0; i < job->n; i++) {
                mttd_write_item *it = &job->items[i];
                mttd_session *s = it->owner;
                if (it->close_fd)
                        close(it->fd);
                s->writing = s->syncing = false;
                if (s->finished)
                        continue; /* a write and a sync of one session in one failure */
                bool was_running = s->state == MTTD_RUNNING;
                mttd_session_abandon(s, EAGAIN, now_us);
                if (was_running)
                        left_running(t, s);
                finish(t, s);
        }
        mttd_write_job_free(job);
}

/* Gives a session's due write a job of its own (its last write, or an fd that may stall). */
static void write_alone(mttd_tracker *t, mttd_session *s, uint64_t now_us, bool with_sync)
{
        mttd_write_job *job = mttd_write_job_new(1);
        if (!job) {
                mttd_session_abandon(s, ENOMEM, now_us);
                return;
        }
        mttd_write_item item;
        mttd_session_take_write(s, now_us, with_sync, &item);
        mttd_write_job_add(job, &item);
        if (mttd_writer_submit(lane_of(t, s), job) < 0) {
                /* The fd and the text are in the job: whatever it held is lost with it. */
                if (item.close_fd)
                        close(item.fd);
                mttd_write_job_free(job);
                s->writing = false;
                mttd_session_abandon(s, EAGAIN, now_us);
        }
}

/* A write the session cannot do: it ends in error and is finished at once. */
static void after_abandon(mttd_tracker *t, mttd_session *s, bool was_running)
{
        if (was_running)
                left_running(t, s);
        mttd_log(LOG_ERR, "session %llu: cannot hand its report to a writer thread",
                 (unsigned long long)s->id);
        finish(t, s);
}

static void write_now(mttd_tracker *t, mttd_session *s, uint64_t now_us, bool with_sync)
{
        bool was_running = s->state == MTTD_RUNNING;
        write_alone(t, s, now_us, with_sync);
        if (s->finished)
                after_abandon(t, s, was_running);
}

/* Adds an item to a shared job, sending the job when it is full. */
static void add_shared(mttd_tracker *t, mttd_write_job **job, const mttd_write_item *item,
                       uint64_t now_us)
{
        if (!*job && !(*job = mttd_write_job_new(MTTD_WRITER_BATCH_MAX))) {
                /* Out of memory: this item's text (and fd, for a last write) is lost. */
                mttd_session *s = item->owner;
                free(item->data);
                if (item->close_fd)
                        close(item->fd);
                if (item->len == 0 && item->sync && !item->close_fd)
                        s->syncing = false;
                else
                        s->writing = false;
                bool was_running = s->state == MTTD_RUNNING;
                if (s->writing || s->syncing) {
                        /* Its other item in flight comes back and finishes it: the fd must
                         * stay open until then. */
                        mttd_session_fail(s, ENOMEM, now_us);
                        if (was_running)
                                left_running(t, s);
                        return;
                }
                mttd_session_abandon(s, ENOMEM, now_us);
                after_abandon(t, s, was_running);
                return;
        }
        mttd_write_job_add(*job, item);
        if ((*job)->n == (*job)->cap) {
                submit_batch(t, *job, now_us);
                *job = NULL;
        }
}

/* Writes a session whose fd may stall, if its user has fewer than cfg->max_blocking_per_uid
 * such writes in flight: one user's pipes that nobody reads hold that many writer threads
 * at most, and other users' pipes and terminals still get theirs. Otherwise the session's
 * rows wait in its buffer until one of its user's writes comes back. */
static void write_blocking(mttd_tracker *t, mttd_session *s, uint64_t now_us, bool with_sync)
{
        if (mttd_shares_in_flight(&t->shares, s->uid) >= t->cfg->max_blocking_per_uid ||
            mttd_shares_add(&t->shares, s->uid) < 0) {
                t->n_deferred += !s->deferred;
                s->deferred = true;
                return;
        }
        t->n_deferred -= s->deferred;
        s->deferred = false;
        s->share_counted = true;
        write_now(t, s, now_us, with_sync);
        if (!s->writing) { /* it never went out */
                s->share_counted = false;
                mttd_shares_remove(&t->shares, s->uid);
        }
}

/* A write of its own for a session, now: through its user's share if its fd may block. */
static void write_soon(mttd_tracker *t, mttd_session *s, uint64_t now_us, bool with_sync)
{
        if (s->may_stall)
                write_blocking(t, s, now_us, with_sync);
        else
                write_now(t, s, now_us, with_sync);
}

/* An ended session's last write: sync and close. */
static void write_final(mttd_tracker *t, mttd_session *s, uint64_t now_us)
{
        write_soon(t, s, now_us, true);
}

/* A blocking write of uid came back: that user's next waiting write may go. */
static void write_deferred(mttd_tracker *t, uid_t uid, uint64_t now_us)
{
        if (t->n_deferred == 0 || t->shutting_down)
                return;
        for (mttd_session *d = t->head; d; d = d->next) {
                if (!d->deferred || d->uid != uid)
                        continue;
                bool last = d->state != MTTD_RUNNING;
                if (last ? mttd_session_last_due(d) : !d->writing) {
                        write_blocking(t, d, now_us, last);
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
static void write_due(mttd_tracker *t, uint64_t now_us)
{
        if (now_us < t->next_batch_us)
                return;
        t->next_batch_us = now_us + t->cfg->flush_delay_us;
        mttd_writer_poke(t->writer);
        mttd_writer_poke(t->stalls);
        mttd_write_job *writes = NULL;
        sync_jobs syncs = {.n = 0};
        for (mttd_session *s = t->head; s; s = s->next) {
                if (s->state != MTTD_RUNNING) {
                        /* Its last write went when it ended, unless its user's share of
                         * the writers was taken then. */
                        if (s->may_stall && mttd_session_last_due(s))
                                write_blocking(t, s, now_us, true);
                        continue;
                }
                bool text = mttd_session_text_due(s, now_us, 0);
                bool sync = mttd_session_sync_due(s, now_us, t->cfg->sync_interval_us);
                mttd_write_item item;
                if (s->may_stall) {
                        if ((text || sync) && !s->writing)
                                write_blocking(t, s, now_us, sync);
                        continue;
                }
                if (text) {
                        mttd_session_take_write(s, now_us, false, &item);
                        add_shared(t, &writes, &item, now_us);
                }
                if (sync && s->state == MTTD_RUNNING) {
                        mttd_session_take_sync(s, now_us, &item);
                        add_shared(t, sync_job_of(&syncs, s->dev), &item, now_us);
                }
        }
        if (writes)
                submit_batch(t, writes, now_us);
        for (size_t i = 0; i < syncs.n; i++)
                if (syncs.job[i])
                        submit_batch(t, syncs.job[i], now_us);
}

/* The last writes of ended sessions, the local ones in shared jobs (one syncfs per file
 * system where many are due): what SIGTERM needs done fast. */
static void write_last(mttd_tracker *t, uint64_t now_us)
{
        mttd_write_job *job = NULL;
        for (mttd_session *s = t->head; s; s = s->next) {
                if (!mttd_session_last_due(s))
                        continue;
                if (s->may_stall) {
                        write_now(t, s, now_us, true);
                        continue;
                }
                mttd_write_item item;
                mttd_session_take_write(s, now_us, true, &item);
                add_shared(t, &job, &item, now_us);
        }
        if (job)
                submit_batch(t, job, now_us);
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
        mttd_tracker *t = ctx;
        mttd_session *s = item->owner;
        uint64_t now = mttd_now_us();
        bool was_running = s->state == MTTD_RUNNING, again;
        bool finished = mttd_session_write_done(s, item, now, &again);
        if (!s->first_written) { /* the report has its header: Open is answered */
                s->first_written = true;
                t->hooks.written(t->hooks.ctx, s);
        }
        bool blocking = s->share_counted;
        if (blocking) {
                s->share_counted = false;
                mttd_shares_remove(&t->shares, s->uid);
        }
        if (was_running && s->state != MTTD_RUNNING)
                left_running(t, s);
        if (again)
                write_final(t, s, now);
        else if (finished)
                finish(t, s);
        if (blocking)
                write_deferred(t, s->uid, now);
        trim_history(t);
        maybe_drained(t);
}

/* The system's OOM kill count, read again once a second while sessions run (it is a long
 * file): what a hangup compares with, so that only an OOM kill in the second before it can
 * be taken for the client's. */
static void refresh_oom_system(mttd_tracker *t, uint64_t now_us)
{
        if (now_us - t->oom_system_us < 1000000)
                return;
        t->oom_system = mtt_procfs_oom_system(MTT_PROCFS_ROOT);
        t->oom_system_us = now_us;
}

static void write_headers_of_late(mttd_tracker *t, uint64_t now);
static void on_source_answered(void *ctx, mttd_source *src);
static void end_as_closed(mttd_tracker *t, mttd_session *s);

/* One meminfo read serves every session due now. Every fine interval all running sessions
 * get the sample (so peaks between rows are seen) and their writes are checked; between
 * those, only the sessions whose row is due. */
static void on_tick(void *ctx)
{
        mttd_tracker *t = ctx;
        uint64_t now = mttd_now_us();
        int64_t kb;
        if (t->n_running == 0) {
                /* No sample: a queued last write behind threads that have since stalled
                 * gets a thread of its own (the check a submit makes, made again). */
                mttd_writer_poke(t->writer);
                mttd_writer_poke(t->stalls);
                arm_next(t);
                return;
        }
        if (read_kb(t, &kb) < 0) {
                /* No sample this time; rows already made still go out, and the next try
                 * waits its turn rather than spinning. */
                t->next_full_us = now + t->cfg->fine_interval_us;
                write_due(t, now);
                arm_next(t);
                return;
        }
        t->stats.samples++;
        t->tick++;
        mttd_baseline_add(&t->baseline, now, kb);
        if (t->n_running > 0 && now >= t->next_full_us) {
                /* The process trees' reads of the last tick, for this one. */
                if (t->n_process_sources > 0)
                        mttd_sampler_collect(t->sampler);
                /* A sample that is neither due nor above a session's highest since its last
                 * row changes nothing for it: most sessions are not even touched. */
                for (size_t i = 0; i < t->n_hot; i++) {
                        struct hot *h = &t->hot[i];
                        /* A process tree whose read is late (or not back yet) makes no
                         * rows: the report shows the gap, never invented values. */
                        if (h->src && (!mttd_source_ready(h->src) || !h->s->begun))
                                continue;
                        int64_t v = h->src ? source_kb(t, h->src) : kb;
                        if (now >= h->due_us || v > h->max_kb)
                                feed(t, h->s, now, v);
                }
                t->stats.sessions_served += t->n_hot;
                t->next_full_us = now + t->cfg->fine_interval_us;
                if (t->n_process_sources > 0)
                        mttd_sampler_tick(t->sampler, now);
                /* Read timeouts are checked ten times a second, not at every tick: sessions
                 * that wait for ever (a read the kernel holds) cost one look each time. */
                if (t->n_waiting_value + t->n_ending > 0 && now >= t->next_late_check_us) {
                        t->next_late_check_us = now + 100000;
                        write_headers_of_late(t, now);
                }
                write_due(t, now);
                refresh_oom_system(t, now);
        }
        /* Sessions due now get this sample (once) and, having written their row, a new due
         * time later than now. */
        if (t->due_dirty)
                rebuild_due(t);
        const mttd_due_entry *top = mttd_due_top(&t->due);
        for (; top && top->at_us <= now; top = mttd_due_top(&t->due)) {
                mttd_session *s = mttd_due_pop(&t->due);
                if (s->source && !mttd_source_ready(s->source)) { /* asks again later */
                        mttd_due_push(&t->due, now + t->cfg->fine_interval_us, s);
                        continue;
                }
                /* A young session's rows come faster than the fine ticks: a process tree is
                 * read for its row, which is made when that read is back
                 * (on_source_answered), not from the read of the last tick. */
                if (s->source && s->source->scope == MTTD_SCOPE_PROCESS && due_at(s) <= now &&
                    s->source->read_us < due_at(s)) {
                        if (!s->row_waits_read) {
                                s->row_waits_read = true;
                                wait_more(t, s, &t->n_row_waits);
                                mttd_sampler_read_now(t->sampler, s->source, now);
                        }
                        continue;
                }
                if (due_at(s) <= now) {
                        feed(t, s, now, s->source ? source_kb(t, s->source) : kb);
                        t->stats.sessions_served++;
                }
                due_push(t, s);
        }
        trim_history(t);
        arm_next(t);
}

static void on_shutdown_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_tracker *t = w->data;
        size_t stalled = mttd_writer_pending(t->stalls) + mttd_writer_pending(t->writer);
        if (stalled > 0)
                mttd_log(LOG_WARNING,
                         "%zu report writes (pipes, terminals, network file systems, disks) "
                         "still pending after %.1f s: not waiting for them",
                         stalled, (double)t->cfg->shutdown_timeout_us / 1e6);
        t->stop_timed_out = true;
        maybe_drained(t);
}

int mttd_tracker_new(struct ev_loop *loop, const mttd_config *cfg, const mttd_tracker_hooks *hooks,
                     mttd_tracker **out)
{
        mttd_tracker *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->loop = loop;
        t->cfg = cfg;
        t->hooks = *hooks;
        t->next_id = 1;
        t->reader.fd = -1;
        t->ticker.fd = -1;
        mttd_due_init(&t->due);
        mttd_fd_kind_init();
        int r = mttd_meminfo_reader_open(&t->reader, cfg->meminfo_path);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot open %s: %s", cfg->meminfo_path, strerror(-r));
                goto fail;
        }
        int64_t kb;
        r = read_kb(t, &kb);
        if (r < 0)
                goto fail;
        r = mttd_writer_new(loop, cfg->writer_threads, on_write_done, on_write_stuck, t,
                            &t->writer);
        if (r == 0)
                r = mttd_writer_new(loop, cfg->writer_threads, on_write_done, NULL, t, &t->stalls);
        if (r == 0)
                r = mttd_sampler_new(loop, cfg, on_source_answered, t, &t->sampler);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot start the writer and sampler threads: %s", strerror(-r));
                goto fail;
        }
        /* Keep about one sample per 10 ms: enough for a mean, bounded in memory. */
        mttd_baseline_init(&t->baseline, 10000);
        r = mttd_ticker_init(&t->ticker, loop, on_tick, t);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot create a timerfd: %s", strerror(-r));
                goto fail;
        }
        ev_timer_init(&t->shutdown_timer, on_shutdown_timeout, 0., 0.);
        t->shutdown_timer.data = t;
        *out = t;
        return 0;
fail:
        mttd_tracker_free(t);
        return r;
}

void mttd_tracker_free(mttd_tracker *t)
{
        if (!t)
                return;
        mttd_ticker_done(&t->ticker);
        ev_timer_stop(t->loop, &t->shutdown_timer);
        mttd_writer_free(t->writer);
        mttd_writer_free(t->stalls);
        /* A thread stuck in a read keeps copies of what it reads (pids, pidfd numbers), not
         * the sources, which go below. */
        mttd_sampler_free(t->sampler);
        mttd_due_free(&t->due);
        mttd_shares_free(&t->shares);
        while (t->sources) {
                mttd_source *src = t->sources;
                t->sources = src->next;
                mttd_source_free(src);
        }
        free(t->hot);
        while (t->head) {
                mttd_session *s = t->head;
                list_remove(t, s);
                mttd_session_free(s);
        }
        mttd_meminfo_reader_close(&t->reader);
        mttd_fd_kind_done();
        free(t);
}

static unsigned running_of_uid(mttd_tracker *t, uid_t uid)
{
        unsigned n = 0;
        for (mttd_session *s = t->head; s; s = s->next)
                if (!s->finished && s->uid == uid)
                        n++;
        return n;
}

/* What a session of uid opening now measures (its source: NULL for the system) and its
 * baseline. The system's is the level at Open: this fresh sample with the recent ones at its
 * level. Another scope has its own source, whose value at Open is the baseline: a cgroup's
 * read now, a process tree's as the sampler read it last (a new tree's comes a moment later:
 * the session waits for it, see start_rows). Takes pidfd. */
static int level_at_open(mttd_tracker *t, const mttd_session_params *sp, int pidfd, uid_t uid,
                         uint64_t now, mttd_source **src, int64_t *kb, double *baseline_kb)
{
        *src = NULL;
        if (read_kb(t, kb) < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                return -EIO;
        }
        *baseline_kb = mttd_baseline_at(&t->baseline, now, *kb, t->cfg->calibration_us,
                                        t->cfg->baseline_band_kb);
        mttd_baseline_add(&t->baseline, now, *kb);
        refresh_oom_system(t, now);
        if (sp->scope == MTTD_SCOPE_SYSTEM)
                return 0;
        int r = source_take(t, sp->scope, sp->pid, pidfd, uid, src);
        if (r < 0)
                return r;
        if ((*src)->scope == MTTD_SCOPE_PROCESS) {
                *kb = mttd_source_ready(*src) ? (*src)->kb : 0;
        } else {
                t->tick++;
                *kb = source_kb(t, *src);
                if ((*src)->error < 0) {
                        source_release(t, *src);
                        *src = NULL;
                        return -ESRCH;
                }
        }
        *baseline_kb = (double)*kb;
        return 0;
}

/* A session's rows start: the row at delta 0 with kb, which for a source of its own is also
 * its baseline when calibrated (a process tree's first value, which it waited for), then,
 * with write, its first write (unless one is out: then the next flush takes the row). */
static void start_rows(mttd_tracker *t, mttd_session *s, int64_t kb, uint64_t now, bool write)
{
        if (s->source && !s->begun) {
                wait_less(t, s, &t->n_waiting_value);
                s->last_kb = s->peak_kb = kb;
                if (s->calibrate)
                        s->baseline_kb = (double)kb;
        }
        uint64_t rows = s->n_rows;
        mttd_session_begin(s);
        t->stats.rows_written += s->n_rows - rows;
        hot_refresh(t, s);
        if (!write)
                return;
        due_push(t, s);
        if (!s->writing)
                write_soon(t, s, now, false);
}

/* The sampler read src: sessions that waited for its first value start. From the newest
 * hot entry down, since one that fails to write leaves the array (its place taken by the
 * last, seen already). */
static void on_source_answered(void *ctx, mttd_source *src)
{
        mttd_tracker *t = ctx;
        if (src->waiting == 0 || !mttd_source_ready(src) || t->shutting_down)
                return;
        uint64_t now = mttd_now_us();
        for (size_t i = t->n_hot; i-- > 0;) {
                if (i >= t->n_hot) /* a session ended below took entries with it */
                        continue;
                mttd_session *s = t->hot[i].s;
                if (s->source != src)
                        continue;
                if (!s->begun) {
                        start_rows(t, s, src->kb, now, true);
                } else if (s->end_requested && src->read_us >= s->end_requested_us) {
                        end_as_closed(t, s); /* the read made after its Close */
                } else if (s->row_waits_read && src->read_us >= due_at(s)) {
                        s->row_waits_read = false; /* the read made for its row */
                        wait_less(t, s, &t->n_row_waits);
                        feed(t, s, now, src->kb);
                        t->stats.sessions_served++;
                        due_push(t, s);
                }
        }
        arm_next(t); /* rows started or made here may be due before the next tick */
}

/* A session whose source's first read is late (or left out, over its user's budget) still
 * gets its header after the read timeout, so its Open is answered (its status says
 * read_stalled); its rows start when a read comes back. */
static void write_headers_of_late(mttd_tracker *t, uint64_t now)
{
        for (size_t i = t->n_hot; i-- > 0;) {
                if (i >= t->n_hot)
                        continue;
                mttd_session *s = t->hot[i].s;
                /* A Close whose fresh read is late ends with what there is. */
                if (s->end_requested && (s->source->late_since_us ||
                                         now - s->end_requested_us >= t->cfg->read_timeout_us)) {
                        end_as_closed(t, s);
                        continue;
                }
                bool late = s->source &&
                            (s->source->late_since_us || now - s->t0_us >= t->cfg->read_timeout_us);
                if (!s->begun && late && s->text_len > 0 && !s->writing && !s->first_written)
                        write_soon(t, s, now, false);
        }
}

int mttd_tracker_open(mttd_tracker *t, const mttd_session_params *p, int fd,
                      const mttd_fd_kind *kind, int pidfd, const struct ucred *peer, int peer_sock,
                      void *owner, mttd_session **out)
{
        int r = t->shutting_down ? -ESHUTDOWN : 0;
        if (r == 0 && (t->n_running >= t->cfg->max_sessions ||
                       running_of_uid(t, peer->uid) >= t->cfg->max_sessions_per_uid))
                r = -EUSERS;
        if (r < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                return r;
        }
        uint64_t now = mttd_now_us();
        const mttd_session_params sp = *p;
        int64_t kb;
        double baseline_kb;
        mttd_source *src;
        r = level_at_open(t, &sp, pidfd, peer->uid, now, &src, &kb, &baseline_kb);
        if (r < 0)
                return r;
        mttd_session *s;
        r = hot_reserve(t);
        if (r == 0)
                r = mttd_session_new(t->next_id, &sp, peer->pid, peer->uid, fd, now, kb,
                                     baseline_kb, &s);
        if (r < 0) {
                source_release(t, src);
                return r;
        }
        s->source = src;
        /* Interference: every running session and this one ran at the same time. */
        for (size_t i = 0; i < t->n_hot; i++) {
                mttd_session_overlap(t->hot[i].s, s);
                mttd_session_overlap(s, t->hot[i].s);
        }
        t->next_id++;
        t->stats.samples++;
        s->started_wall_us = mttd_wall_us();
        s->may_stall = kind->may_stall;
        s->regular = kind->regular;
        s->dev = kind->dev;
        s->owner = owner;
        s->peer = peer_of(t, owner, peer_sock, peer->pid);
        list_append(t, s);
        s->samples_at_open = t->stats.samples - 1; /* the sample taken for it counts */
        if (t->n_watch_all > 0) {
                s->watch = &t->hooks.row;
                t->hooks.opened(t->hooks.ctx, s);
        }
        /* A new process tree's first value is a moment away: the session waits for it. */
        bool waits = src && !mttd_source_ready(src);
        if (waits) {
                wait_more(t, s, &t->n_waiting_value);
        } else {
                mttd_session_begin(s);
                t->stats.rows_written += s->n_rows;
        }
        hot_add(t, s);
        if (t->n_running++ == 0)
                t->next_full_us = now + t->cfg->fine_interval_us;
        running_changed(t);
        if (!waits)
                due_push(t, s);
        mttd_log_session f = log_fields(s);
        mttd_log_session_event(LOG_INFO, &f,
                               "session %llu (%s) opened by pid %d uid %u, baseline %.6f GiB",
                               (unsigned long long)s->id, s->label, (int)s->pid, (unsigned)s->uid,
                               mttd_kb_to_gib(s->baseline_kb));
        arm_next(t);
        /* A report file has its header (and first row) once Open is answered: the reply
         * waits for this first write, made off the loop like every other. A pipe's or a
         * terminal's reader gets it as the stream's first bytes: no wait. A session that
         * waits for its process tree's first value writes when it has it. */
        if (!waits)
                write_soon(t, s, now, false);
        *out = s;
        return kind->regular && !s->first_written && !s->announced ? 1 : 0;
}

/* Ends one running session at this moment, with a fresh sample when there is one. */
static void end_session(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause)
{
        uint64_t now = mttd_now_us();
        int64_t kb = s->last_kb;
        if (read_kb(t, &kb) == 0)
                t->stats.samples++;
        t->tick++;
        /* A process tree's value is the sampler's latest (no read here: it may block). */
        if (s->source)
                kb = mttd_source_ready(s->source) ? source_kb(t, s->source) : s->last_kb;
        if (!s->begun)
                start_rows(t, s, kb, now, false);
        left_running(t, s);
        uint64_t rows = s->n_rows;
        mttd_session_end(s, now, kb, outcome, cause);
        t->stats.rows_written += s->n_rows - rows;
        /* The last write goes as soon as what is in flight, if anything, is back; at
         * shutdown all of them go together (write_last). */
        if (!t->shutting_down && mttd_session_last_due(s))
                write_final(t, s, now);
}

/* A Close ends the session with what its client said (also when it ends later, after a
 * fresh read). */
static void end_as_closed(mttd_tracker *t, mttd_session *s)
{
        if (s->end_requested) {
                s->end_requested = false;
                wait_less(t, s, &t->n_ending);
        }
        end_session(t, s, s->end_outcome, s->end_cause);
}

int mttd_tracker_close(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause)
{
        if (s->state == MTTD_RUNNING && !s->end_requested) {
                mttd_peer_unref(s->peer); /* the client says how it ended */
                s->peer = NULL;
                s->end_outcome = outcome;
                free(s->end_cause);
                s->end_cause = cause ? strdup(cause) : NULL;
                /* A process tree's last row is a read made after the Close (what the process
                 * holds at that moment), not the read of the last tick: it is asked for now,
                 * and the session ends when it is back (or late: with what there is). */
                if (s->source && s->source->scope == MTTD_SCOPE_PROCESS && s->begun &&
                    !t->shutting_down) {
                        uint64_t now = mttd_now_us();
                        /* A read back since the last tick counts first (a short run's peak
                         * may be in it alone). */
                        mttd_sampler_collect(t->sampler);
                        if (mttd_source_ready(s->source))
                                feed(t, s, now, s->source->kb);
                        s->end_requested = true;
                        s->end_requested_us = now;
                        wait_more(t, s, &t->n_ending);
                        mttd_sampler_read_now(t->sampler, s->source, now);
                } else {
                        end_as_closed(t, s);
                }
        }
        return s->announced ? 0 : 1;
}

/* The session's end is announced now, if its report is done already. */
static void cause_settled(mttd_tracker *t, mttd_session *s)
{
        s->cause_pending = false;
        mttd_peer_unref(s->peer);
        s->peer = NULL;
        if (s->finish_pending) {
                s->finish_pending = false;
                session_finished(t, s);
        }
}

/* The cause of a hangup is known: every session of that client has it. */
static void on_cause(void *ctx, mttd_peer *p, const char *cause)
{
        mttd_tracker *t = ctx;
        mttd_session *next;
        for (mttd_session *s = t->head; s; s = next) {
                next = s->next;
                if (s->peer != p || !s->cause_pending)
                        continue;
                free(s->cause);
                s->cause = strdup(cause);
                cause_settled(t, s); /* the last one frees p */
        }
}

bool mttd_tracker_owns_running(const mttd_tracker *t, const void *owner)
{
        for (size_t i = 0; i < t->n_hot; i++)
                if (t->hot[i].s->owner == owner)
                        return true;
        return false;
}

/* A hangup ends the session at once (its last row is this moment, written at once); how the
 * client ended comes a little later from its pidfd, and the log line, the watchers' last
 * message and the history's count wait for it. */
void mttd_tracker_hangup(mttd_tracker *t, void *owner)
{
        for (mttd_session *s = t->head; s; s = s->next) {
                if (s->owner != owner)
                        continue;
                s->owner = NULL;
                if (s->state != MTTD_RUNNING)
                        continue;
                if (s->end_requested) { /* it did Close: what it said stands */
                        end_as_closed(t, s);
                        continue;
                }
                s->cause_pending = s->peer && !t->shutting_down;
                end_session(t, s, MTTD_CRASHED, "the client closed its connection without Close");
                if (s->cause_pending && !mttd_peer_probing(s->peer))
                        mttd_peer_probe(s->peer, t->loop, CAUSE_WAIT_US, t->oom_system, on_cause,
                                        t);
        }
}

static void set_watch(const mttd_tracker *t, mttd_session *s)
{
        s->watch = s->watchers || t->n_watch_all ? &t->hooks.row : NULL;
}

void mttd_tracker_watch(mttd_tracker *t, mttd_session *s, int delta)
{
        if (s) {
                s->watchers += delta;
                set_watch(t, s);
                return;
        }
        t->n_watch_all += delta;
        for (s = t->head; s; s = s->next)
                set_watch(t, s);
}

void mttd_tracker_shutdown(mttd_tracker *t)
{
        if (t->shutting_down)
                return;
        t->shutting_down = true;
        mttd_ticker_disarm(&t->ticker);
        /* No more waiting for causes: what is known now is what the log says. */
        for (mttd_session *s = t->head; s; s = s->next)
                if (s->cause_pending)
                        cause_settled(t, s);
        for (mttd_session *s = t->head; s; s = s->next)
                if (s->end_requested)
                        end_as_closed(t, s);
                else if (s->state == MTTD_RUNNING)
                        end_session(t, s, MTTD_CRASHED, "mttd stopped while the session ran");
        write_last(t, mttd_now_us());
        ev_timer_set(&t->shutdown_timer, (double)t->cfg->shutdown_timeout_us / 1e6, 0.);
        ev_timer_start(t->loop, &t->shutdown_timer);
        maybe_drained(t);
}

mttd_session *mttd_tracker_find(mttd_tracker *t, uint64_t id)
{
        for (mttd_session *s = t->head; s; s = s->next)
                if (s->id == id)
                        return s;
        return NULL;
}

mttd_session *mttd_tracker_first(mttd_tracker *t)
{
        return t->head;
}

unsigned mttd_tracker_running(const mttd_tracker *t)
{
        return t->n_running;
}

const mttd_config *mttd_tracker_config(const mttd_tracker *t)
{
        return t->cfg;
}

int mttd_tracker_sample(mttd_tracker *t, mttd_meminfo *out)
{
        return mttd_meminfo_read(&t->reader, out);
}

void mttd_tracker_view(const mttd_tracker *t, mttd_session_view *v)
{
        *v = (mttd_session_view){
            .now_us = mttd_now_us(),
            .stall_after_us = t->cfg->stall_after_us,
            .current_kb = t->last_kb,
            .samples = t->stats.samples,
        };
}

const mttd_tracker_stats *mttd_tracker_stats_of(const mttd_tracker *t)
{
        return &t->stats;
}

/* Sampling, fan-out and the session table. */
#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "clock.h"
#include "log.h"

struct mttd_tracker {
        struct ev_loop *loop;
        const mttd_config *cfg;
        mttd_finished_cb finished_cb;
        mttd_drained_cb drained_cb;
        void *ctx;

        mttd_meminfo_reader reader;
        mttd_baseline baseline;
        mttd_writer *writer;
        ev_timer tick;
        ev_timer shutdown_timer;

        mttd_session *head, *tail; /* every session, oldest first */
        unsigned n_running, n_ended;
        uint64_t next_id;
        bool shutting_down;
        bool reader_failed; /* logged once */
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
        *kb = mttd_meminfo_used_kb(&m);
        return 0;
}

static void schedule_tick(mttd_tracker *t, uint64_t now_us)
{
        uint64_t next =
            now_us + (t->n_running ? t->cfg->fine_interval_us : t->cfg->idle_interval_us);
        for (mttd_session *s = t->head; s; s = s->next) {
                if (s->state != MTTD_RUNNING)
                        continue;
                uint64_t due = s->t0_us + mttd_rows_next_due(&s->rows);
                if (due < next)
                        next = due;
        }
        uint64_t delay = next > now_us ? next - now_us : 0;
        ev_timer_stop(t->loop, &t->tick);
        ev_timer_set(&t->tick, (double)delay / 1e6, 0.);
        ev_timer_start(t->loop, &t->tick);
}

static void log_end(const mttd_session *s)
{
        const char *outcome = mttd_state_name(s->outcome);
        if (s->write_error)
                mttd_log(LOG_WARNING, "session %llu (%s): report write failed: %s",
                         (unsigned long long)s->id, s->label, strerror(s->write_error));
        mttd_log(LOG_INFO, "session %llu (%s) %s%s%s after %.3f s, %llu rows, peak %.6f GiB",
                 (unsigned long long)s->id, s->label, outcome, s->cause ? ": " : "",
                 s->cause ? s->cause : "", (double)(s->end_us - s->t0_us) / 1e6,
                 (unsigned long long)s->n_rows, mttd_session_gib(s, s->peak_kb));
}

/* Keeps at most cfg->history finished sessions. */
static void trim_history(mttd_tracker *t)
{
        mttd_session *s = t->head;
        while (s && t->n_ended > t->cfg->history) {
                mttd_session *next = s->next;
                if (s->finished) {
                        list_remove(t, s);
                        mttd_session_free(s);
                        t->n_ended--;
                }
                s = next;
        }
}

static void maybe_drained(mttd_tracker *t)
{
        if (t->shutting_down && mttd_writer_pending(t->writer) == 0) {
                ev_timer_stop(t->loop, &t->shutdown_timer);
                t->drained_cb(t->ctx);
        }
}

static void session_finished(mttd_tracker *t, mttd_session *s)
{
        log_end(s);
        t->finished_cb(t->ctx, s);
        trim_history(t);
}

static void on_write_done(void *ctx, mttd_write_job *job)
{
        mttd_tracker *t = ctx;
        mttd_session *s = job->owner;
        bool was_running = s->state == MTTD_RUNNING;
        bool finished = mttd_session_write_done(s, t->writer, job, mttd_now_us());
        if (was_running && s->state != MTTD_RUNNING) {
                t->n_running--;
                t->n_ended++;
        }
        if (finished)
                session_finished(t, s);
        maybe_drained(t);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_tracker *t = w->data;
        uint64_t now = mttd_now_us();
        int64_t kb;
        if (read_kb(t, &kb) == 0) {
                mttd_baseline_add(&t->baseline, now, kb);
                for (mttd_session *s = t->head; s; s = s->next)
                        mttd_session_feed(s, now, kb);
        }
        for (mttd_session *s = t->head; s; s = s->next)
                if (s->state == MTTD_RUNNING)
                        mttd_session_flush(s, t->writer, now, t->cfg->flush_delay_us,
                                           t->cfg->sync_interval_us, false);
        schedule_tick(t, mttd_now_us());
}

static void on_shutdown_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_tracker *t = w->data;
        mttd_log(LOG_WARNING, "%zu report writes still pending after %.1f s; exiting anyway",
                 mttd_writer_pending(t->writer), (double)t->cfg->shutdown_timeout_us / 1e6);
        t->drained_cb(t->ctx);
}

int mttd_tracker_new(struct ev_loop *loop, const mttd_config *cfg, mttd_finished_cb finished,
                     mttd_drained_cb drained, void *ctx, mttd_tracker **out)
{
        mttd_tracker *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->loop = loop;
        t->cfg = cfg;
        t->finished_cb = finished;
        t->drained_cb = drained;
        t->ctx = ctx;
        t->next_id = 1;
        t->reader.fd = -1;
        int r = mttd_meminfo_reader_open(&t->reader, cfg->meminfo_path);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot open %s: %s", cfg->meminfo_path, strerror(-r));
                goto fail;
        }
        int64_t kb;
        r = read_kb(t, &kb);
        if (r < 0)
                goto fail;
        r = mttd_writer_new(loop, cfg->writer_threads, on_write_done, t, &t->writer);
        if (r < 0)
                goto fail;
        /* Keep about one sample per 10 ms: enough for a mean, bounded in memory. */
        mttd_baseline_init(&t->baseline, 10000);
        mttd_baseline_add(&t->baseline, mttd_now_us(), kb);
        ev_timer_init(&t->tick, on_tick, 0., 0.);
        t->tick.data = t;
        ev_timer_init(&t->shutdown_timer, on_shutdown_timeout, 0., 0.);
        t->shutdown_timer.data = t;
        schedule_tick(t, mttd_now_us());
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
        ev_timer_stop(t->loop, &t->tick);
        ev_timer_stop(t->loop, &t->shutdown_timer);
        mttd_writer_free(t->writer);
        while (t->head) {
                mttd_session *s = t->head;
                list_remove(t, s);
                /* A job that never came back owns the fd if it was to close it. */
                if (s->inflight && s->inflight->close_fd)
                        s->fd = -1;
                mttd_session_free(s);
        }
        mttd_meminfo_reader_close(&t->reader);
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

int mttd_tracker_open(mttd_tracker *t, const mttd_session_params *p, int fd,
                      const struct ucred *peer, void *owner, mttd_session **out)
{
        if (t->shutting_down)
                return -ESHUTDOWN;
        if (t->n_running >= t->cfg->max_sessions ||
            running_of_uid(t, peer->uid) >= t->cfg->max_sessions_per_uid)
                return -EUSERS;
        uint64_t now = mttd_now_us();
        int64_t kb;
        int r = read_kb(t, &kb);
        if (r < 0)
                return -EIO;
        mttd_baseline_add(&t->baseline, now, kb);
        double baseline_kb = (double)kb;
        mttd_baseline_mean(&t->baseline, now, t->cfg->calibration_us, &baseline_kb);

        mttd_session *s;
        r = mttd_session_new(t->next_id, p, peer->pid, peer->uid, fd, now, kb, baseline_kb, &s);
        if (r < 0)
                return r;
        t->next_id++;
        s->started_wall_us = mttd_wall_us();
        s->owner = owner;
        list_append(t, s);
        t->n_running++;
        mttd_log(LOG_INFO, "session %llu (%s) opened by pid %d uid %u, baseline %.6f GiB",
                 (unsigned long long)s->id, s->label, (int)s->pid, (unsigned)s->uid,
                 mttd_kb_to_gib(s->baseline_kb));
        schedule_tick(t, now);
        *out = s;
        return 0;
}

/* Ends one running session at this moment, with a fresh sample when there is one. */
static void end_session(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause)
{
        uint64_t now = mttd_now_us();
        int64_t kb = s->last_kb;
        read_kb(t, &kb);
        t->n_running--;
        t->n_ended++;
        int r = mttd_session_end(s, t->writer, now, kb, outcome, cause);
        if (r < 0) {
                /* No writer would take the last job: give up on the report, not the session. */
                mttd_log(LOG_ERR, "session %llu: cannot queue its last write: %s",
                         (unsigned long long)s->id, strerror(-r));
                mttd_session_abandon(s, -r, now);
                session_finished(t, s);
        }
}

int mttd_tracker_close(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause)
{
        if (s->state == MTTD_RUNNING)
                end_session(t, s, outcome, cause);
        return s->finished ? 0 : 1;
}

void mttd_tracker_hangup(mttd_tracker *t, void *owner)
{
        for (mttd_session *s = t->head; s; s = s->next) {
                if (s->owner != owner)
                        continue;
                s->owner = NULL;
                if (s->state == MTTD_RUNNING)
                        end_session(t, s, MTTD_CRASHED,
                                    "the client closed its connection without Close");
        }
}

void mttd_tracker_shutdown(mttd_tracker *t)
{
        if (t->shutting_down)
                return;
        t->shutting_down = true;
        ev_timer_stop(t->loop, &t->tick);
        for (mttd_session *s = t->head; s; s = s->next)
                if (s->state == MTTD_RUNNING)
                        end_session(t, s, MTTD_CRASHED, "mttd stopped while the session ran");
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

/* The sessions' lives: open, close, hangups and their causes, shutdown. */
#include "tracker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "flush.h"
#include "keep.h"
#include "log.h"
#include "peer.h"
#include "proto/ending.h"

/* After a hangup, how long a client that still runs is given to end. */
#define CAUSE_WAIT_US 500000

struct mttd_tracker {
        struct ev_loop *loop;
        const mttd_config *cfg;
        mttd_tracker_hooks hooks;
        mttd_table table;
        mttd_tick *tick;
        mttd_flush *flush;
        ev_timer shutdown_timer;
        ev_timer drained_next; /* the drained hook, once the items of the last job are in */
        bool drained_told;
        bool shutting_down;
        bool handing_over;   /* ... for a new mttd, which takes the sessions up */
        uint64_t stopped_us; /* the last tick's time then */
        bool stop_timed_out; /* no more waiting for reports that stall */
        mttd_tracker_counts counts;
};

static uint64_t conn_of(const mttd_session *s)
{
        return s->owner ? s->owner->id : 0;
}

static mttd_log_session log_fields(const mttd_session *s)
{
        return (mttd_log_session){
            .id = s->id,
            .label = s->label,
            .pid = s->pid,
            .uid = s->uid,
            .outcome = mttd_session_running(s)      ? NULL
                       : s->outcome == MTTD_RUNNING ? mttd_state_name(s->state)
                                                    : mttd_state_name(s->outcome),
            .cause = s->write_error ? strerror(-s->write_error) : s->cause,
        };
}

static void log_end(const mttd_session *s)
{
        mttd_log_session f = log_fields(s);
        if (s->write_error)
                mttd_log_session_event(
                    LOG_WARNING, &f, "session %llu (%s): report write failed: %s",
                    (unsigned long long)s->id, s->label, strerror(-s->write_error));
        else
                mttd_log_session_event(
                    LOG_INFO, &f, "session %llu (%s) %s%s%s after %.3f s, %llu rows, peak %.6f GiB",
                    (unsigned long long)s->id, s->label, f.outcome ? f.outcome : "ended",
                    s->cause ? ": " : "", s->cause ? s->cause : "",
                    (double)(s->end_us - s->t0_us) / 1e6, (unsigned long long)s->n_rows,
                    mttd_session_gib(s, s->peak_kb));
}

/* Shutdown waits for every report's last write until the shutdown timeout: a pipe nobody
 * reads, a hung NFS server or a local disk that no longer answers does not keep mttd. */
static bool drained(const mttd_tracker *t)
{
        return t->shutting_down && (mttd_flush_pending(t->flush) == 0 || t->stop_timed_out);
}

/* Told at the next loop iteration: a job's items come back one by one after the job is no
 * longer pending, and a handover must see every one of them back. */
static void maybe_drained(mttd_tracker *t)
{
        if (drained(t) && !t->drained_told)
                ev_timer_start(t->loop, &t->drained_next);
}

static void on_drained_next(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_tracker *t = w->data;
        if (!drained(t) || t->drained_told)
                return;
        t->drained_told = true;
        ev_timer_stop(t->loop, &t->shutdown_timer);
        t->hooks.drained(t->hooks.ctx);
}

/* A session stops running (it ended, or its report broke). */
static void left_running(mttd_tracker *t, mttd_session *s)
{
        if (s->owner)
                s->owner->running--;
        mttd_tick_remove(t->tick, s);
        mttd_table_left_running(&t->table, s);
        if (t->hooks.running)
                t->hooks.running(t->hooks.ctx, t->table.n_running);
}

/* An ended session counts once its end is told: its state and cause are final then. */
static void count_end(mttd_tracker *t, const mttd_session *s)
{
        mtt_proto_cause_class c = mtt_proto_cause_class_of(s->cause, s->state == MTTD_ERROR);
        if ((unsigned)s->state < MTTD_STATES)
                t->counts.ended[s->state][c]++;
        if (s->write_error)
                t->counts.write_errors++;
}

/* A session whose report is done (CLOSED) is announced (log, Close replies, watchers),
 * unless the cause of its hangup is still being found: then once it is (cause_known).
 * History is trimmed later, never under a loop over the sessions. */
static void announce(mttd_tracker *t, mttd_session *s)
{
        if (!mttd_session_announce(s))
                return;
        mttd_table_announced(&t->table, s);
        count_end(t, s);
        mttd_peer_unref(s->peer); /* its pidfd is of no more use */
        s->peer = NULL;
        log_end(s);
        t->hooks.finished(t->hooks.ctx, s);
}

static void finished(mttd_tracker *t, mttd_session *s)
{
        mttd_keep_finished(s);
        mttd_table_finished(&t->table, s);
        announce(t, s);
}

/* Ends a running session now; its last write goes as soon as what is in flight, if
 * anything, is back (at shutdown all of them go together: mttd_flush_last). */
static void end_session(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause,
                        bool awaits_cause)
{
        if (s->owner)
                s->owner->running--;
        mttd_tick_end(t->tick, s, outcome, cause, awaits_cause);
        mttd_keep_changed(s, conn_of(s));
        mttd_table_left_running(&t->table, s);
        if (t->hooks.running)
                t->hooks.running(t->hooks.ctx, t->table.n_running);
        if (!t->shutting_down && mttd_session_last_due(s))
                mttd_flush_soon(t->flush, s, mttd_now_us(), true);
}

/* A Close ends the session with what its client said (also when it ends later, after a
 * fresh read). */
static void end_as_closed(mttd_tracker *t, mttd_session *s)
{
        end_session(t, s, s->end_outcome, s->end_cause, false);
}

static void on_end_read(void *ctx, mttd_session *s)
{
        end_as_closed(ctx, s);
}

/* A session's rows start: the row at delta 0 (kb: its source's first value), then its
 * first write (unless one is out: then the next flush takes the row). */
static void on_first_value(void *ctx, mttd_session *s, int64_t kb, uint64_t now_us)
{
        mttd_tracker *t = ctx;
        uint64_t rows = s->n_rows;
        mttd_session_begin(s, kb, true, &t->table.row);
        mttd_keep_changed(s, conn_of(s)); /* its rows started, its baseline set */
        mttd_tick_started(t->tick, s, rows);
        if (!s->writing)
                mttd_flush_soon(t->flush, s, now_us, false);
}

/* A session whose source's first read is late (or left out, over its user's budget) still
 * gets its header after the read timeout, or half the write stall bound if that is sooner
 * (an Open waits for its header at most that bound: the reply must not come before the
 * report is emptied and has it), so its Open is answered (its status says read_stalled); its
 * rows start when a read comes back. A Close whose fresh read is late ends with what there
 * is. */
static void on_late_check(void *ctx, uint64_t now)
{
        mttd_tracker *t = ctx;
        for (size_t i = mttd_tick_n_running(t->tick); i-- > 0;) {
                if (i >= mttd_tick_n_running(t->tick))
                        continue;
                mttd_session *s = mttd_tick_running_at(t->tick, i);
                if (!s->source)
                        continue;
                bool late = s->source->late_since_us != 0;
                if (s->phase == MTTD_PHASE_CLOSING &&
                    (late || now - s->end_requested_us >= t->cfg->read_timeout_us)) {
                        end_as_closed(t, s);
                        continue;
                }
                uint64_t wait = t->cfg->read_timeout_us < t->cfg->stall_after_us / 2
                                    ? t->cfg->read_timeout_us
                                    : t->cfg->stall_after_us / 2;
                late = late || now - s->t0_us >= wait;
                if (s->phase == MTTD_PHASE_STARTING && late && s->text_len > 0 && !s->writing &&
                    !s->first_written)
                        mttd_flush_soon(t->flush, s, now, false);
        }
}

/* A write of s came back. */
static void on_written(void *ctx, mttd_session *s, mttd_write_result r, bool was_running)
{
        mttd_tracker *t = ctx;
        if (r.first) /* the report has its header: Open is answered */
                t->hooks.written(t->hooks.ctx, s);
        if (was_running && !mttd_session_running(s))
                left_running(t, s);
        if (r.again)
                mttd_flush_soon(t->flush, s, mttd_now_us(), true);
        else if (r.finished)
                finished(t, s);
        mttd_table_trim(&t->table);
        maybe_drained(t);
}

/* s's report broke before a write of it came back. */
static void on_broke(void *ctx, mttd_session *s, bool was_running)
{
        mttd_tracker *t = ctx;
        if (was_running)
                left_running(t, s);
        if (!mttd_session_finished(s))
                return; /* its other item in flight comes back and finishes it */
        mttd_log(LOG_ERR, "session %llu: cannot hand its report to a writer thread",
                 (unsigned long long)s->id);
        finished(t, s);
}

static void on_shutdown_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        mttd_tracker *t = w->data;
        size_t stalled = mttd_flush_pending(t->flush);
        if (stalled > 0)
                mttd_log(LOG_WARNING,
                         "%zu report writes (pipes, terminals, network file systems, disks) "
                         "still pending after %.1f s: not waiting for them",
                         stalled, (double)t->cfg->shutdown_timeout_us / 1e6);
        t->stop_timed_out = true;
        maybe_drained(t);
}

static void on_gpus_told(void *ctx)
{
        mttd_tracker *t = ctx;
        if (t->hooks.gpus_told)
                t->hooks.gpus_told(t->hooks.ctx);
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
        mttd_table_init(&t->table, cfg->history, &hooks->row);
        mttd_fd_kind_init();
        const mttd_flush_hooks fh = {.written = on_written, .broke = on_broke, .ctx = t};
        int r = mttd_flush_new(loop, cfg, &t->table, &fh, &t->flush);
        if (r < 0) {
                mttd_log(LOG_ERR, "cannot start the writer threads: %s", strerror(-r));
                goto fail;
        }
        const mttd_tick_hooks th = {
            .late_check = on_late_check,
            .first_value = on_first_value,
            .gpus_told = on_gpus_told,
            .end_read = on_end_read,
            .ctx = t,
        };
        r = mttd_tick_new(loop, cfg, &t->table, t->flush, &th, &t->tick);
        if (r < 0)
                goto fail; /* it said why */
        ev_timer_init(&t->shutdown_timer, on_shutdown_timeout, 0., 0.);
        t->shutdown_timer.data = t;
        ev_timer_init(&t->drained_next, on_drained_next, 0., 0.);
        t->drained_next.data = t;
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
        ev_timer_stop(t->loop, &t->shutdown_timer);
        ev_timer_stop(t->loop, &t->drained_next);
        mttd_tick_free(t->tick);
        mttd_flush_free(t->flush);
        mttd_table_done(&t->table);
        mttd_fd_kind_done();
        free(t);
}

/* A run's RAM and GPU sessions, opened by one process (mttctl run --gpu-output, a program
 * that tracks both): one workload measured twice, neither's memory in the other's figures. */
static bool one_run_twice(const mttd_session *a, const mttd_session *b)
{
        return a->pid > 0 && a->pid == b->pid &&
               mttd_scope_is_gpu(a->scope) != mttd_scope_is_gpu(b->scope);
}

/* The session made and in the table, running: watchers hear of it, its rows start unless
 * it waits for its process tree's first value, and its first write goes. */
static void start(mttd_tracker *t, mttd_session *s, const mttd_opener *by, uint64_t now)
{
        /* Interference: every running session and this one ran at the same time, except the
         * run's own other session. */
        for (size_t i = 0; i < mttd_tick_n_running(t->tick); i++) {
                mttd_session *o = mttd_tick_running_at(t->tick, i);
                if (one_run_twice(o, s))
                        continue;
                mttd_session_overlap(o, s);
                mttd_session_overlap(s, o);
        }
        s->started_wall_us = mttd_wall_us();
        s->owner = by->owner;
        s->owner->running++;
        s->peer = by->peer ? mttd_peer_ref(by->peer) : NULL;
        mttd_table_add(&t->table, s);
        t->counts.opened++;
        if (t->table.n_watch_all > 0)
                t->hooks.opened(t->hooks.ctx, s);
        mttd_tick_add(t->tick, s);
        bool waits = s->waits & MTTD_WAIT_VALUE;
        if (!waits) {
                mttd_session_begin(s, 0, false, &t->table.row);
                mttd_tick_started(t->tick, s, 0);
        }
        if (t->hooks.running)
                t->hooks.running(t->hooks.ctx, t->table.n_running);
        mttd_log_session f = log_fields(s);
        mttd_log_session_event(LOG_INFO, &f,
                               "session %llu (%s) opened by pid %d uid %u, baseline %.6f GiB",
                               (unsigned long long)s->id, s->label, (int)s->pid, (unsigned)s->uid,
                               mttd_kb_to_gib(s->baseline_kb));
        mttd_tick_arm(t->tick);
        mttd_keep_opened(s, by->owner->id, by->owner->kept);
        /* A report file has its header (and first row) once Open is answered: the reply
         * waits for this first write, made off the loop like every other. A pipe's or a
         * terminal's reader gets it as the stream's first bytes: no wait. A session that
         * waits for its process tree's first value writes when it has it. */
        if (!waits)
                mttd_flush_soon(t->flush, s, now, false);
}

int mttd_tracker_open(mttd_tracker *t, const mttd_session_params *p, int fd,
                      const mttd_fd_kind *kind, int pidfd, const mttd_opener *by,
                      mttd_session **out, bool *written)
{
        int r = t->shutting_down ? -ESHUTDOWN
                                 : mttd_table_reserve(&t->table, by->uid, t->cfg->max_sessions,
                                                      t->cfg->max_sessions_per_uid);
        if (r < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                return r;
        }
        uint64_t now = mttd_now_us();
        int64_t kb;
        double baseline_kb;
        mttd_source *src;
        mttd_session *s = NULL;
        r = mttd_tick_level_at_open(t->tick, p, pidfd, by->uid, now, &src, &kb, &baseline_kb);
        if (r == 0)
                r = mttd_tick_reserve(t->tick);
        if (r == 0)
                r = mttd_session_new(t->table.next_id, p, by->pid, by->uid, fd, now, kb,
                                     baseline_kb, &s);
        if (r < 0) {
                if (s == NULL)
                        mttd_tick_release(t->tick, src);
                mttd_table_unreserve(&t->table, by->uid);
                return r;
        }
        s->source = src;
        s->may_stall = kind->may_stall;
        s->regular = kind->regular;
        s->dev = kind->dev;
        start(t, s, by, now);
        *out = s;
        *written = !kind->regular || s->first_written || s->phase == MTTD_PHASE_ANNOUNCED;
        return 0;
}

void mttd_tracker_close(mttd_tracker *t, mttd_session *s, mttd_state outcome, const char *cause,
                        bool *told)
{
        if (s->phase == MTTD_PHASE_STARTING) {
                mttd_peer_unref(s->peer); /* the client says how it ended */
                s->peer = NULL;
                s->end_requested_us = mttd_now_us(); /* a Close ended it */
                end_session(t, s, outcome, cause, false);
        } else if (s->phase == MTTD_PHASE_RUNNING) {
                mttd_peer_unref(s->peer);
                s->peer = NULL;
                /* A process tree's last row is a read made after the Close (what the process
                 * holds at that moment), not the read of the last tick: it is asked for now,
                 * and the session ends when it is back (or late: with what there is). */
                mttd_session_closing(s, mttd_now_us(), outcome, cause);
                if (!mttd_tick_read_for_end(t->tick, s, s->end_requested_us))
                        end_as_closed(t, s); /* its end rewrites its state */
                else
                        mttd_keep_changed(s, conn_of(s));
        }
        *told = s->phase == MTTD_PHASE_ANNOUNCED;
}

/* The cause of a hangup is known: every session of that client has it, and those whose
 * report is done are announced. */
static void on_cause(void *ctx, mttd_peer *p, const char *cause)
{
        mttd_tracker *t = ctx;
        mttd_session *s, *next;
        for (s = mttd_table_first(&t->table); s; s = next) {
                next = mttd_table_next(s);
                if (s->peer != p || !s->cause_awaited)
                        continue;
                mttd_session_cause(s, cause);
                mttd_peer_unref(s->peer); /* the last one frees p */
                s->peer = NULL;
                announce(t, s);
        }
}

/* A hangup ends the session at once (its last row is this moment, written at once); how the
 * client ended comes a little later from its pidfd, and the log line, the watchers' last
 * message and the history's count wait for it. */
void mttd_tracker_hangup(mttd_tracker *t, mttd_owner *owner)
{
        mttd_session *s;
        mttd_table_foreach(s, &t->table)
        {
                if (s->owner != owner)
                        continue;
                if (t->handing_over) /* the connection lives on in the next mttd */
                        ;
                else if (s->phase == MTTD_PHASE_CLOSING) { /* it did Close: what it said stands */
                        end_as_closed(t, s);
                } else if (mttd_session_running(s)) {
                        bool awaits = s->peer && !t->shutting_down;
                        end_session(t, s, MTTD_CRASHED,
                                    "the client closed its connection without Close", awaits);
                        if (awaits && !mttd_peer_probing(s->peer))
                                mttd_peer_probe(s->peer, t->loop, CAUSE_WAIT_US,
                                                mttd_tick_oom_system(t->tick), on_cause, t);
                }
                s->owner = NULL;
        }
}

void mttd_tracker_watch(mttd_tracker *t, mttd_session *s, int delta)
{
        mttd_table_watch(&t->table, s, delta);
}

/* Stopping: no more ticks, no more waiting for causes (what is known now is what the log
 * says), and Closes whose last read is out end now. */
static void stop_ticking(mttd_tracker *t)
{
        t->shutting_down = true;
        t->stopped_us = mttd_now_us();
        mttd_tick_stop(t->tick);
        mttd_session *s;
        mttd_table_foreach(s, &t->table)
        {
                if (!s->cause_awaited)
                        continue;
                mttd_session_cause(s, NULL);
                mttd_peer_unref(s->peer);
                s->peer = NULL;
                announce(t, s);
        }
        mttd_table_foreach(s, &t->table) if (s->phase == MTTD_PHASE_CLOSING) end_as_closed(t, s);
}

/* Waits for every write (until the stop timeout), then calls the drained hook. */
static void drain(mttd_tracker *t)
{
        mttd_flush_last(t->flush, mttd_now_us());
        ev_timer_set(&t->shutdown_timer, (double)t->cfg->shutdown_timeout_us / 1e6, 0.);
        ev_timer_start(t->loop, &t->shutdown_timer);
        maybe_drained(t);
}

void mttd_tracker_shutdown(mttd_tracker *t)
{
        if (t->shutting_down)
                return;
        mttd_flush_stop(t->flush);
        stop_ticking(t);
        mttd_session *s;
        mttd_table_foreach(s, &t->table)
        {
                if (mttd_session_running(s))
                        end_session(t, s, MTTD_CRASHED, "mttd stopped while the session ran",
                                    false);
        }
        drain(t);
}

/* Sessions a handover cannot pass on end now, as at a stop, saying why: under systemd the
 * ones not kept (their names did not fit), in a re-exec those past the names' room. */
static void end_unkept(mttd_tracker *t)
{
        size_t bytes = 0;
        mttd_session *s;
        mttd_table_foreach(s, &t->table)
        {
                if (!mttd_session_running(s))
                        continue;
                bool kept = s->state_fd >= 0;
                if (!mttd_keep_storing()) {
                        bytes += mttd_keep_name_bytes(MTTD_KEEP_STATE, s->id) +
                                 mttd_keep_name_bytes(MTTD_KEEP_REPORT, s->id) +
                                 mttd_keep_name_bytes(MTTD_KEEP_PIDFD, s->id) +
                                 mttd_keep_name_bytes(MTTD_KEEP_CONN, conn_of(s));
                        kept = bytes <= MTTD_KEEP_NAMES_MAX;
                }
                if (!kept)
                        end_session(t, s, MTTD_ERROR,
                                    "mttd restarted and could not keep the session: more "
                                    "sessions ran than it can pass to the next mttd",
                                    false);
        }
}

void mttd_tracker_hand_over(mttd_tracker *t)
{
        if (t->shutting_down)
                return;
        t->handing_over = true;
        end_unkept(t);
        stop_ticking(t);
        /* What running sessions have buffered goes now; they run on in the next mttd. */
        mttd_flush_now(t->flush, mttd_now_us());
        drain(t);
}

int mttd_tracker_keep_all(mttd_tracker *t)
{
        int failed = 0;
        mttd_session *s;
        mttd_table_foreach(s, &t->table)
        {
                if (mttd_session_finished(s))
                        continue;
                int r = mttd_keep_hand_over(s, conn_of(s), t->stopped_us);
                if (r < 0) {
                        mttd_log(LOG_ERR, "session %llu: cannot keep its state: %s",
                                 (unsigned long long)s->id, strerror(-r));
                        failed++;
                }
        }
        return failed;
}

bool mttd_tracker_handing_over(const mttd_tracker *t)
{
        return t->handing_over;
}

/* A session taken over that cannot go on ends here in error, with no more rows: its
 * buffered text is written, its report closed, and its status, the journal and its client
 * (at its Close) say why. */
static void not_resumed(mttd_tracker *t, mttd_session *s, const char *why, uint64_t now)
{
        char cause[512];
        snprintf(cause, sizeof(cause), "mttd restarted and could not resume the session: %s", why);
        mttd_session_unresumable(s, cause, now);
        if (mttd_session_last_due(s))
                mttd_flush_soon(t->flush, s, now, true);
        else if (mttd_session_finished(s))
                finished(t, s);
}

void mttd_tracker_resume(mttd_tracker *t, mttd_session *s, const char *why)
{
        uint64_t now = mttd_now_us();
        bool running = mttd_session_running(s);
        if (why)
                not_resumed(t, s, why, now);
        else if (running && !s->owner) /* its client went while mttd was away */
                end_session(t, s, MTTD_CRASHED,
                            "the client closed its connection without Close (while mttd "
                            "restarted)",
                            false);
        else if (s->phase == MTTD_PHASE_CLOSING) /* its Close's reply waits */
                end_as_closed(t, s);
        else if (!running && mttd_session_last_due(s))
                mttd_flush_soon(t->flush, s, now, true);
        else if (running && s->text_len > 0 && !s->first_written && !(s->waits & MTTD_WAIT_VALUE))
                mttd_flush_soon(t->flush, s, now, false);
}

void mttd_tracker_resumed(mttd_tracker *t)
{
        mttd_tick_arm(t->tick);
}

int mttd_tracker_adopt(mttd_tracker *t, mttd_session *s, int report_fd, int pidfd,
                       mttd_owner *owner, mttd_peer *peer, uint64_t saved_us, const char **why)
{
        if (mttd_tick_reserve(t->tick) < 0 || mttd_table_adopt(&t->table, s) < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                if (report_fd >= 0)
                        close(report_fd);
                return -ENOMEM; /* the caller frees it */
        }
        uint64_t now = mttd_now_us();
        s->fd = report_fd;
        s->restarts++;
        s->restart_gap_us = now > saved_us ? now - saved_us : 0;
        s->peer = peer ? mttd_peer_ref(peer) : NULL;
        s->owner = owner;
        if (s->cause_awaited) /* a hangup's cause: nobody looks for it any more */
                mttd_session_cause(s, NULL);
        bool running = mttd_session_running(s);
        if (!*why && report_fd < 0)
                *why = "its report's fd was not kept";
        int r = running && !*why ? mttd_tick_adopt(t->tick, s, pidfd) : 0;
        if ((!running || *why) && pidfd >= 0)
                close(pidfd);
        if (r < 0)
                *why = r == -EBADF ? "its process's pidfd was not kept"
                                   : "the process or cgroup it measured is gone";
        if (!*why) {
                mttd_log_session f = log_fields(s);
                mttd_log_session_event(
                    LOG_INFO, &f, "session %llu (%s) resumed after mttd restarted: a gap of %.3f s",
                    (unsigned long long)s->id, s->label, (double)s->restart_gap_us / 1e6);
        }
        if (*why) { /* it runs no more: mttd_tracker_resume ends it */
                if (running)
                        mttd_table_left_running(&t->table, s);
                return 0;
        }
        if (owner && running)
                owner->running++;
        if (running && t->hooks.running)
                t->hooks.running(t->hooks.ctx, t->table.n_running);
        return 0;
}

int mttd_tracker_unresumable(mttd_tracker *t, uint64_t id, uid_t uid, const char *why)
{
        const mttd_session_params p = {.label = "", .min_interval_us = 1, .max_interval_us = 1};
        mttd_session *s;
        int r = mttd_session_new(id, &p, 0, uid, -1, mttd_now_us(), 0, 0, &s);
        if (r < 0)
                return r;
        if (mttd_table_adopt(&t->table, s) < 0) {
                mttd_session_free(s);
                return -ENOMEM;
        }
        t->table.n_running -= mttd_session_running(s);
        mttd_session_resume(s, MTTD_PHASE_STARTING, &s->rows, NULL, 0); /* no header: no text */
        not_resumed(t, s, why, mttd_now_us());
        return 0;
}

mttd_session *mttd_tracker_find(mttd_tracker *t, uint64_t id)
{
        return mttd_table_find(&t->table, id);
}

mttd_session *mttd_tracker_first(mttd_tracker *t)
{
        return mttd_table_first(&t->table);
}

unsigned mttd_tracker_running(const mttd_tracker *t)
{
        return t->table.n_running;
}

const mttd_config *mttd_tracker_config(const mttd_tracker *t)
{
        return t->cfg;
}

int mttd_tracker_sample(mttd_tracker *t, mttd_meminfo *out)
{
        return mttd_tick_sample(t->tick, out);
}

struct mttd_gpus *mttd_tracker_gpus(mttd_tracker *t)
{
        return mttd_tick_gpus(t->tick);
}

void mttd_tracker_view(const mttd_tracker *t, mttd_session_view *v)
{
        *v = (mttd_session_view){
            .now_us = mttd_now_us(),
            .stall_after_us = t->cfg->stall_after_us,
            .current_kb = mttd_tick_last_kb(t->tick),
            .samples = mttd_tick_stats_of(t->tick)->samples,
        };
}

const mttd_tracker_stats *mttd_tracker_stats_of(const mttd_tracker *t)
{
        return mttd_tick_stats_of(t->tick);
}

const mttd_tracker_counts *mttd_tracker_counts_of(const mttd_tracker *t)
{
        return &t->counts;
}

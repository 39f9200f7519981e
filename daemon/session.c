/* Session state, report text and write jobs. */
#include "session.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/grow.h"
#include "csv.h"
#include "meminfo.h"
#include "peer.h"
#include "proto/interface.h"
#include "proto/text.h"

const char *mttd_state_name(mttd_state s)
{
        static const char *const names[] = {MTT_PROTO_RUNNING, MTT_PROTO_COMPLETED,
                                            MTT_PROTO_FAILED, MTT_PROTO_CRASHED, MTT_PROTO_ERROR};
        return names[s];
}

static int append(mttd_session *s, const char *text, size_t len)
{
        if (mtt_grow(&s->text, &s->text_cap, s->text_len + len, 1, 512) < 0)
                return -ENOMEM;
        memcpy(s->text + s->text_len, text, len);
        s->text_len += len;
        return 0;
}

double mttd_session_gib(const mttd_session *s, int64_t kb)
{
        return mttd_kb_to_gib((double)kb - s->baseline_kb);
}

/* The rows module's sink: one CSV line into the session's text. */
static void on_row(void *ctx, uint64_t t_us, int64_t kb)
{
        mttd_session *s = ctx;
        char row[MTTD_CSV_ROW_MAX];
        size_t n = mttd_csv_row(row, t_us, mttd_session_gib(s, kb));
        /* Out of memory loses this row only; the next append tries again. */
        if (append(s, row, n) == 0)
                s->n_rows++;
        if (s->telling) /* the number as the row prints it: six decimals, rounded to even */
                s->telling->fn(s->telling->ctx, s, t_us,
                               nearbyint(mttd_session_gib(s, kb) * 1e6) / 1e6);
}

static void track_value(mttd_session *s, int64_t kb)
{
        s->last_kb = kb;
        if (kb > s->peak_kb)
                s->peak_kb = kb;
}

int mttd_session_new(uint64_t id, const mttd_session_params *p, pid_t pid, uid_t uid, int fd,
                     uint64_t now_us, int64_t kb, double baseline_kb, mttd_session **out)
{
        mttd_session *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->label = strdup(p->label ? p->label : "");
        s->job = p->job ? strdup(p->job) : NULL;
        if (!s->label || (p->job && !s->job)) {
                free(s->label);
                free(s->job);
                free(s);
                return -ENOMEM;
        }
        s->id = id;
        s->pid = pid;
        s->scope = p->scope;
        s->tracked_pid = p->pid;
        s->gpu = p->scope == MTTD_SCOPE_GPU_DEVICE ? p->gpu : -1;
        s->uid = uid;
        s->phase = MTTD_PHASE_STARTING;
        s->state = MTTD_RUNNING;
        s->t0_us = now_us;
        s->last_sync_us = now_us;
        s->calibrate = p->calibrate;
        s->truncate = p->truncate;
        s->baseline_kb = p->calibrate ? baseline_kb : 0;
        s->fd = -1;
        s->state_fd = -1;
        s->peak_kb = kb;
        s->last_kb = kb;
        if (append(s, MTTD_CSV_HEADER, strlen(MTTD_CSV_HEADER)) < 0) {
                mttd_session_free(s);
                return -ENOMEM;
        }
        /* Kept here until mttd_session_begin starts the rows with them. */
        s->rows.schedule = (mttd_schedule){p->min_interval_us, p->max_interval_us};
        s->rows.peak_min_kb = p->peak_min_kb;
        s->fd = fd;
        *out = s;
        return 0;
}

/* Rows made from here to told() go to hook too, while anyone watches. */
static void telling(mttd_session *s, const mttd_row_hook *hook)
{
        s->telling = s->watched && hook && hook->fn ? hook : NULL;
}

static void told(mttd_session *s)
{
        s->telling = NULL;
}

void mttd_session_begin(mttd_session *s, int64_t kb, bool own_value, const mttd_row_hook *hook)
{
        if (s->phase != MTTD_PHASE_STARTING)
                return;
        if (own_value) {
                s->last_kb = s->peak_kb = kb;
                if (s->calibrate)
                        s->baseline_kb = (double)kb;
        }
        mttd_schedule sched = s->rows.schedule;
        int64_t peak_min_kb = s->rows.peak_min_kb;
        s->phase = MTTD_PHASE_RUNNING;
        telling(s, hook);
        mttd_rows_start(&s->rows, &sched, s->last_kb, on_row, s);
        told(s);
        mttd_rows_set_peak_min(&s->rows, peak_min_kb);
}

void mttd_session_closing(mttd_session *s, uint64_t now_us, mttd_state outcome, const char *cause)
{
        if (s->phase != MTTD_PHASE_RUNNING)
                return;
        s->phase = MTTD_PHASE_CLOSING;
        s->end_outcome = outcome;
        free(s->end_cause);
        s->end_cause = cause ? strdup(cause) : NULL;
        s->end_requested_us = now_us;
}

bool mttd_session_wait(mttd_session *s, unsigned what)
{
        if (s->waits & what)
                return false;
        s->waits |= what;
        return true;
}

bool mttd_session_unwait(mttd_session *s, unsigned what)
{
        if (!(s->waits & what))
                return false;
        s->waits &= ~what;
        return true;
}

void mttd_session_cause(mttd_session *s, const char *cause)
{
        if (!s->cause_awaited)
                return;
        s->cause_awaited = false;
        if (cause) {
                free(s->cause);
                s->cause = strdup(cause);
        }
}

bool mttd_session_announce(mttd_session *s)
{
        if (s->phase != MTTD_PHASE_CLOSED || s->cause_awaited)
                return false;
        s->phase = MTTD_PHASE_ANNOUNCED;
        return true;
}

int mttd_session_resume(mttd_session *s, mttd_phase phase, const mttd_rows *rows, const char *text,
                        size_t len)
{
        s->text_len = 0;
        if (len > 0 && append(s, text, len) < 0)
                return -ENOMEM;
        s->phase = phase;
        if (phase > MTTD_PHASE_STARTING) {
                s->rows = *rows;
                s->rows.sink = on_row;
                s->rows.ctx = s;
        } else { /* its rows have not started: their options only */
                s->rows.schedule = rows->schedule;
                s->rows.peak_min_kb = rows->peak_min_kb;
        }
        return 0;
}

void mttd_session_overlap(mttd_session *s, const mttd_session *other)
{
        s->overlaps++;
        /* Whoever may see s may see its owner's labels, never another user's (SPEC 8). */
        if (other->uid != s->uid)
                s->overlaps_other_users++;
        else if (s->n_overlapped < MTTD_OVERLAP_LABELS)
                s->overlapped[s->n_overlapped++] = strdup(other->label);
}

void mttd_session_free(mttd_session *s)
{
        if (!s)
                return;
        for (unsigned i = 0; i < s->n_overlapped; i++)
                free(s->overlapped[i]);
        /* A file whose write or sync is still out (mttd stopping past its timeout) stays open:
         * its close could wait for that write (a FUSE flush does), on the loop's thread. A
         * pipe's or a terminal's close never waits. */
        if (s->fd >= 0 && !(s->regular && (s->writing || s->syncing)))
                close(s->fd);
        if (s->state_fd >= 0)
                close(s->state_fd);
        mttd_peer_unref(s->peer);
        free(s->text);
        free(s->label);
        free(s->job);
        free(s->cause);
        free(s->end_cause);
        free(s);
}

void mttd_session_feed(mttd_session *s, uint64_t now_us, int64_t kb, const mttd_row_hook *hook)
{
        if (!mttd_session_making_rows(s))
                return;
        track_value(s, kb);
        telling(s, hook);
        mttd_rows_feed(&s->rows, now_us - s->t0_us, kb);
        told(s);
}

bool mttd_session_text_due(const mttd_session *s)
{
        /* A starting session's header waits for its first value (or the read timeout): its
         * Open is answered once the header is written, and so with its baseline. */
        return !s->writing && s->fd >= 0 && mttd_session_making_rows(s) && s->text_len > 0;
}

bool mttd_session_sync_due(const mttd_session *s, uint64_t now_us, uint64_t sync_interval_us)
{
        return !s->syncing && s->fd >= 0 && mttd_session_running(s) &&
               s->writes_done > s->synced_writes && now_us - s->last_sync_us >= sync_interval_us;
}

bool mttd_session_last_due(const mttd_session *s)
{
        return !mttd_session_running(s) && s->fd >= 0 && !s->writing && !s->syncing;
}

void mttd_session_take_write(mttd_session *s, uint64_t now_us, bool with_sync,
                             mttd_write_item *item)
{
        bool last = !mttd_session_running(s);
        *item = (mttd_write_item){
            .fd = s->fd,
            .data = s->text,
            .len = s->text_len,
            .sync = last || with_sync,
            .close_fd = last,
            .owner = s,
            .dev = s->dev,
            .after_fd = -1,
            .truncate = s->truncate && s->regular && !s->first_written,
        };
        s->truncate = false; /* once: a later write (or a new mttd's) must not cut the first */
        s->text = NULL;
        s->text_len = s->text_cap = 0;
        s->writing = true;
        s->write_since_us = now_us;
        if (last)
                s->fd = -1; /* the item closes it */
}

void mttd_session_take_sync(mttd_session *s, uint64_t now_us, mttd_write_item *item)
{
        *item = (mttd_write_item){
            .fd = s->fd,
            .sync = true,
            .owner = s,
            .dev = s->dev,
            .after_fd = -1,
            .tag = s->writes_done,
        };
        s->syncing = true;
}

int mttd_session_end(mttd_session *s, uint64_t now_us, int64_t kb, mttd_state state,
                     const char *cause, bool awaits_cause, const mttd_row_hook *hook)
{
        if (!mttd_session_running(s))
                return -EALREADY;
        mttd_session_begin(s, kb, s->source != NULL, hook);
        s->phase = MTTD_PHASE_ENDED;
        s->cause_awaited = awaits_cause;
        track_value(s, kb);
        telling(s, hook);
        mttd_rows_finish(&s->rows, now_us - s->t0_us, kb);
        told(s);
        if (state == MTTD_COMPLETED)
                append(s, MTTD_CSV_END_COMPLETED, strlen(MTTD_CSV_END_COMPLETED));
        else if (state == MTTD_FAILED)
                append(s, MTTD_CSV_END_FAILED, strlen(MTTD_CSV_END_FAILED));
        s->state = s->outcome = state;
        s->end_us = now_us;
        free(s->cause);
        s->cause = cause && cause[0] ? strdup(cause) : NULL;
        return 0;
}

mttd_write_result mttd_session_write_done(mttd_session *s, const mttd_write_item *item,
                                          uint64_t now_us)
{
        /* A sync of its own (no bytes, no close) covers the writes done before it started. */
        bool sync_only = item->len == 0 && item->sync && !item->close_fd;
        mttd_write_result r = {.first = !s->first_written};
        s->first_written = true;
        if (sync_only)
                s->syncing = false;
        else
                s->writing = false;
        if (item->error == 0) {
                if (!sync_only && item->len > 0)
                        s->writes_done++;
                if (item->sync) {
                        uint64_t covered = sync_only ? item->tag : s->writes_done;
                        if (covered > s->synced_writes)
                                s->synced_writes = covered;
                        s->last_sync_us = now_us;
                }
        } else {
                mttd_session_fail(s, item->error, now_us);
        }
        if (item->close_fd) {
                s->phase = MTTD_PHASE_CLOSED;
                r.finished = true;
                return r;
        }
        /* Ended (or broken): its last write, which closes the fd, comes once nothing else
         * is in flight. */
        r.again = mttd_session_last_due(s);
        return r;
}

void mttd_session_write_lost(mttd_session *s, const mttd_write_item *item, int err, uint64_t now_us)
{
        if (item->len == 0 && item->sync && !item->close_fd)
                s->syncing = false;
        else
                s->writing = false;
        if (item->close_fd)
                close(item->fd);
        if (mttd_session_finished(s))
                return;
        if (s->writing || s->syncing)
                mttd_session_fail(s, err, now_us);
        else
                mttd_session_abandon(s, err, now_us);
}

void mttd_session_fail(mttd_session *s, int err, uint64_t now_us)
{
        if (s->write_error || mttd_session_finished(s))
                return;
        s->write_error = err;
        s->state = MTTD_ERROR;
        s->phase = MTTD_PHASE_ENDED;
        if (!s->end_us)
                s->end_us = now_us;
        free(s->text);
        s->text = NULL;
        s->text_len = s->text_cap = 0;
}

void mttd_session_unresumable(mttd_session *s, const char *cause, uint64_t now_us)
{
        if (mttd_session_finished(s))
                return;
        s->state = s->outcome = MTTD_ERROR;
        free(s->cause);
        s->cause = strdup(cause);
        if (!s->end_us)
                s->end_us = now_us;
        if (mttd_session_running(s) || s->fd < 0)
                s->phase = s->fd >= 0 ? MTTD_PHASE_ENDED : MTTD_PHASE_CLOSED;
}

void mttd_session_abandon(mttd_session *s, int err, uint64_t now_us)
{
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
        s->write_error = err;
        s->state = MTTD_ERROR;
        if (!s->end_us)
                s->end_us = now_us;
        s->phase = MTTD_PHASE_CLOSED;
}

void mttd_session_values(const mttd_session *s, const mttd_session_view *v, int64_t *last_kb,
                         int64_t *peak_kb)
{
        /* A running session of the system scope is not given every sample: the latest is
         * the tick's. Another scope's latest is the value the session was last given. */
        bool system_now = mttd_session_running(s) && s->scope == MTTD_SCOPE_SYSTEM;
        *last_kb = system_now ? v->current_kb : s->last_kb;
        *peak_kb = system_now && v->current_kb > s->peak_kb ? v->current_kb : s->peak_kb;
}

json_t *mttd_session_json(const mttd_session *s, const mttd_session_view *v)
{
        uint64_t now_us = v->now_us, stall_after_us = v->stall_after_us;
        uint64_t end = s->end_us ? s->end_us : now_us;
        bool running = mttd_session_running(s);
        int64_t last_kb, peak_kb;
        mttd_session_values(s, v, &last_kb, &peak_kb);
        uint64_t samples = (running ? v->samples : s->samples_at_end) - s->samples_at_open;
        json_t *o = json_pack(
            "{s:I, s:s, s:i, s:i, s:s, s:I, s:f, s:I, s:f, s:f, s:f, s:b, s:I, s:I}", "id",
            (json_int_t)s->id, "label", s->label, "pid", (int)s->pid, "uid", (int)s->uid, "state",
            mttd_state_name(s->state), "started", (json_int_t)s->started_wall_us, "elapsed",
            (double)(end - s->t0_us) / 1e6, "rows", (json_int_t)s->n_rows, "ram",
            mttd_session_gib(s, last_kb), "peak", mttd_session_gib(s, peak_kb), "baseline",
            mttd_kb_to_gib(s->baseline_kb), "calibrate", s->calibrate, "min_interval_us",
            (json_int_t)s->rows.schedule.min_us, "max_interval_s",
            (json_int_t)(s->rows.schedule.max_us / 1000000));
        if (!o)
                return NULL;
        if (s->job)
                json_object_set_new(o, "job", json_string(s->job));
        if (s->outcome != MTTD_RUNNING)
                json_object_set_new(o, "outcome", json_string(mttd_state_name(s->outcome)));
        json_object_set_new(o, "samples", json_integer((json_int_t)samples));
        if (s->cause)
                json_object_set_new(o, "cause", json_string(s->cause));
        json_object_set_new(o, "scope", json_string(mttd_scope_name(s->scope)));
        if (mttd_scope_has_process(s->scope))
                json_object_set_new(o, "tracked_pid", json_integer(s->tracked_pid));
        if (s->scope == MTTD_SCOPE_GPU_DEVICE && s->gpu >= 0)
                json_object_set_new(o, "gpu", json_integer(s->gpu));
        const mttd_source *src = running ? s->source : NULL;
        /* What the last GPU read could not read (a GPU lost): no rows meanwhile. */
        if (src && src->gpu_why[0]) {
                char why[sizeof(src->gpu_why)];
                snprintf(why, sizeof(why), "%s", src->gpu_why);
                mtt_proto_printable(why);
                json_object_set_new(o, "gpu_error", json_string(why));
        }
        /* Its GPU read is out past the deadline: no rows meanwhile. */
        if (src && src->scope != MTTD_SCOPE_PROCESS && mttd_scope_read_off_loop(src->scope) &&
            src->late_since_us && now_us > src->late_since_us)
                json_object_set_new(o, "read_stalled",
                                    json_real((double)(now_us - src->late_since_us) / 1e6));
        if (src && src->scope == MTTD_SCOPE_PROCESS) {
                json_object_set_new(o, "processes", json_integer(src->processes));
                if (src->cut)
                        json_object_set_new(o, "tree_cut", json_true());
                /* Its process tree's read is out past the deadline: no rows meanwhile. */
                if (src->late_since_us && now_us > src->late_since_us)
                        json_object_set_new(o, "read_stalled",
                                            json_real((double)(now_us - src->late_since_us) / 1e6));
        }
        json_object_set_new(o, "may_stall", json_boolean(s->may_stall));
        if (s->restarts > 0) { /* mttd restarted while it ran: rows have a gap there */
                json_object_set_new(o, "restarts", json_integer(s->restarts));
                json_object_set_new(o, "restart_gap", json_real((double)s->restart_gap_us / 1e6));
        }
        json_t *with = json_array();
        for (unsigned i = 0; i < s->n_overlapped; i++)
                json_array_append_new(with, json_string(s->overlapped[i] ? s->overlapped[i] : ""));
        json_object_set_new(o, "overlaps", json_integer(s->overlaps));
        json_object_set_new(o, "overlaps_other_users", json_integer(s->overlaps_other_users));
        json_object_set_new(o, "overlapped_with", with);
        if (s->write_error) {
                json_object_set_new(o, "error", json_string(strerror(-s->write_error)));
                json_object_set_new(o, "errno", json_integer(-s->write_error));
        }
        /* A write in flight for long, or a first write still waiting for its user's share. */
        uint64_t since = s->writing                        ? s->write_since_us
                         : !s->first_written && s->fd >= 0 ? s->t0_us
                                                           : now_us;
        if (now_us - since >= stall_after_us)
                json_object_set_new(o, "write_stalled", json_real((double)(now_us - since) / 1e6));
        return o;
}

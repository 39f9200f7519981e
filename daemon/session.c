/* Session state, report text and write jobs. */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "meminfo.h"

const char *mttd_state_name(mttd_state s)
{
        static const char *const names[] = {"running", "completed", "failed", "crashed", "error"};
        return names[s];
}

static int append(mttd_session *s, const char *text, size_t len, uint64_t now_us)
{
        if (s->text_len + len > s->text_cap) {
                size_t cap = s->text_cap ? s->text_cap : 512;
                while (cap < s->text_len + len)
                        cap *= 2;
                char *p = realloc(s->text, cap);
                if (!p)
                        return -ENOMEM;
                s->text = p;
                s->text_cap = cap;
        }
        if (s->text_len == 0)
                s->oldest_text_us = now_us;
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
        if (append(s, row, n, s->t0_us + t_us) == 0)
                s->n_rows++;
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
        if (!s->label) {
                free(s);
                return -ENOMEM;
        }
        s->id = id;
        s->pid = pid;
        s->uid = uid;
        s->state = MTTD_RUNNING;
        s->t0_us = now_us;
        s->last_sync_us = now_us;
        s->calibrate = p->calibrate;
        s->baseline_kb = p->calibrate ? baseline_kb : 0;
        s->fd = -1;
        s->peak_kb = kb;
        s->last_kb = kb;
        if (append(s, MTTD_CSV_HEADER, strlen(MTTD_CSV_HEADER), now_us) < 0) {
                mttd_session_free(s);
                return -ENOMEM;
        }
        mttd_schedule sched = {p->min_interval_us, p->max_interval_us};
        mttd_rows_start(&s->rows, &sched, kb, on_row, s);
        s->fd = fd;
        *out = s;
        return 0;
}

void mttd_session_free(mttd_session *s)
{
        if (!s)
                return;
        if (s->fd >= 0)
                close(s->fd);
        free(s->text);
        free(s->label);
        free(s->cause);
        free(s);
}

void mttd_session_feed(mttd_session *s, uint64_t now_us, int64_t kb)
{
        if (s->state != MTTD_RUNNING)
                return;
        track_value(s, kb);
        mttd_rows_feed(&s->rows, now_us - s->t0_us, kb);
}

static int submit(mttd_session *s, mttd_writer *w, uint64_t now_us, bool sync, bool last)
{
        mttd_write_job *job = calloc(1, sizeof(*job));
        if (!job)
                return -ENOMEM;
        job->fd = s->fd;
        job->data = s->text;
        job->len = s->text_len;
        job->sync = sync || last;
        job->close_fd = last;
        job->owner = s;
        job->submitted_us = now_us;
        int r = mttd_writer_submit(w, job);
        if (r < 0) {
                free(job);
                return r;
        }
        s->text = NULL;
        s->text_len = s->text_cap = 0;
        s->inflight = job;
        if (last)
                s->fd = -1;
        return 0;
}

int mttd_session_flush(mttd_session *s, mttd_writer *w, uint64_t now_us, uint64_t delay_us,
                       uint64_t sync_interval_us, bool force)
{
        if (s->inflight || s->fd < 0)
                return 0;
        bool ended = s->state != MTTD_RUNNING;
        if (ended)
                return submit(s, w, now_us, true, true);
        bool sync_due = now_us - s->last_sync_us >= sync_interval_us;
        bool text_due = s->text_len > 0 &&
                        (force || now_us - s->oldest_text_us >= delay_us || s->text_len >= 32768);
        if (text_due || (sync_due && s->unsynced))
                return submit(s, w, now_us, sync_due, false);
        return 0;
}

int mttd_session_end(mttd_session *s, mttd_writer *w, uint64_t now_us, int64_t kb, mttd_state state,
                     const char *cause)
{
        if (s->state != MTTD_RUNNING)
                return -EALREADY;
        track_value(s, kb);
        mttd_rows_finish(&s->rows, now_us - s->t0_us, kb);
        if (state == MTTD_COMPLETED)
                append(s, MTTD_CSV_END_COMPLETED, strlen(MTTD_CSV_END_COMPLETED), now_us);
        else if (state == MTTD_FAILED)
                append(s, MTTD_CSV_END_FAILED, strlen(MTTD_CSV_END_FAILED), now_us);
        s->state = s->outcome = state;
        s->end_us = now_us;
        free(s->cause);
        s->cause = cause && cause[0] ? strdup(cause) : NULL;
        return mttd_session_flush(s, w, now_us, 0, 0, true);
}

bool mttd_session_write_done(mttd_session *s, mttd_writer *w, mttd_write_job *job, uint64_t now_us)
{
        s->inflight = NULL;
        bool last = job->close_fd;
        if (job->error == 0) {
                if (job->sync) {
                        s->last_sync_us = now_us;
                        s->unsynced = false;
                } else if (job->len > 0) {
                        s->unsynced = true;
                }
        } else if (s->write_error == 0) {
                /* The report is broken: end the session in error; the fd is of no more use. */
                s->write_error = job->error;
                s->state = MTTD_ERROR;
                if (!s->end_us)
                        s->end_us = now_us;
                free(s->text);
                s->text = NULL;
                s->text_len = s->text_cap = 0;
        }
        mttd_write_job_free(job);
        if (last) {
                s->finished = true;
                return true;
        }
        if (s->write_error) {
                /* Close the fd off the loop too: close(2) may flush on network file systems. */
                if (submit(s, w, now_us, false, true) < 0) {
                        mttd_session_abandon(s, s->write_error, now_us);
                        return true;
                }
                return false;
        }
        if (s->state != MTTD_RUNNING && mttd_session_flush(s, w, now_us, 0, 0, true) < 0) {
                mttd_session_abandon(s, EIO, now_us);
                return true;
        }
        return false;
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
        s->finished = true;
}

json_t *mttd_session_json(const mttd_session *s, uint64_t now_us, uint64_t stall_after_us)
{
        uint64_t end = s->end_us ? s->end_us : now_us;
        json_t *o = json_pack(
            "{s:I, s:s, s:i, s:i, s:s, s:I, s:f, s:I, s:f, s:f, s:f, s:b, s:I, s:I}", "id",
            (json_int_t)s->id, "label", s->label, "pid", (int)s->pid, "uid", (int)s->uid, "state",
            mttd_state_name(s->state), "started", (json_int_t)s->started_wall_us, "elapsed",
            (double)(end - s->t0_us) / 1e6, "rows", (json_int_t)s->n_rows, "ram",
            mttd_session_gib(s, s->last_kb), "peak", mttd_session_gib(s, s->peak_kb), "baseline",
            mttd_kb_to_gib(s->baseline_kb), "calibrate", s->calibrate, "min_interval_us",
            (json_int_t)s->rows.schedule.min_us, "max_interval_s",
            (json_int_t)(s->rows.schedule.max_us / 1000000));
        if (!o)
                return NULL;
        if (s->outcome != MTTD_RUNNING)
                json_object_set_new(o, "outcome", json_string(mttd_state_name(s->outcome)));
        if (s->cause)
                json_object_set_new(o, "cause", json_string(s->cause));
        if (s->write_error) {
                json_object_set_new(o, "error", json_string(strerror(s->write_error)));
                json_object_set_new(o, "errno", json_integer(s->write_error));
        }
        if (s->inflight && now_us - s->inflight->submitted_us >= stall_after_us)
                json_object_set_new(o, "write_stalled",
                                    json_real((double)(now_us - s->inflight->submitted_us) / 1e6));
        return o;
}

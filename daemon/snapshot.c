/* Sessions as plain data, and back. */
#include "snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/interface.h"
#include "proto/text.h"

static json_t *point(mttd_point p)
{
        return json_pack("[I, I]", (json_int_t)p.t_us, (json_int_t)p.kb);
}

static json_t *rows_record(const mttd_rows *r)
{
        return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:b, s:b}", "min_us",
                         (json_int_t)r->schedule.min_us, "max_us", (json_int_t)r->schedule.max_us,
                         "next_due_us", (json_int_t)r->next_due_us, "last", point(r->last), "held",
                         point(r->held), "max", point(r->max), "peak_min_kb",
                         (json_int_t)r->peak_min_kb, "have_held", r->have_held, "have_max",
                         r->have_max);
}

/* What it measures and for whom. A job is there when it has one: a record from before jobs
 * reads as a session without (the version stays). */
static json_t *identity(const mttd_session *s)
{
        return json_pack("{s:I, s:s, s:s*, s:i, s:i, s:i, s:i, s:i, s:b, s:f, s:I, s:I, s:I}", "id",
                         (json_int_t)s->id, "label", s->label, "job", s->job, "pid", (int)s->pid,
                         "uid", (int)s->uid, "scope", (int)s->scope, "tracked_pid",
                         (int)s->tracked_pid, "gpu", s->gpu, "calibrate", s->calibrate,
                         "baseline_kb", s->baseline_kb, "started_wall_us",
                         (json_int_t)s->started_wall_us, "t0_us", (json_int_t)s->t0_us, "end_us",
                         (json_int_t)s->end_us);
}

/* Where its life and its report stand. */
static json_t *progress(const mttd_session *s)
{
        return json_pack(
            "{s:i, s:i, s:i, s:s?, s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:I, "
            "s:s%, s:i, s:s?, s:I, s:b}",
            "phase", (int)s->phase, "state", (int)s->state, "outcome", (int)s->outcome, "cause",
            s->cause, "cause_awaited", s->cause_awaited, "write_error", s->write_error, "n_rows",
            (json_int_t)s->n_rows, "last_kb", (json_int_t)s->last_kb, "peak_kb",
            (json_int_t)s->peak_kb, "writes_done", (json_int_t)s->writes_done, "synced_writes",
            (json_int_t)s->synced_writes, "last_sync_us", (json_int_t)s->last_sync_us,
            "first_written", s->first_written, "may_stall", s->may_stall, "regular", s->regular,
            "dev", (json_int_t)s->dev, "text", s->text ? s->text : "", s->text ? s->text_len : 0,
            "end_outcome", (int)s->end_outcome, "end_cause", s->end_cause, "end_requested_us",
            (json_int_t)s->end_requested_us, "truncate", s->truncate);
}

json_t *mttd_snapshot_session(const mttd_session *s)
{
        json_t *with = json_array();
        for (unsigned i = 0; with && i < s->n_overlapped; i++)
                json_array_append_new(with, json_string(s->overlapped[i] ? s->overlapped[i] : ""));
        json_t *o = json_pack("{s:o, s:o, s:o, s:I, s:I, s:o}", "identity", identity(s), "progress",
                              progress(s), "rows", rows_record(&s->rows), "overlaps",
                              (json_int_t)s->overlaps, "overlaps_other_users",
                              (json_int_t)s->overlaps_other_users, "overlapped_with", with);
        /* The restarts of mttd it went through, and the last one's gap. */
        if (o && (json_object_set_new(o, "restarts", json_integer(s->restarts)) < 0 ||
                  json_object_set_new(o, "restart_gap_us",
                                      json_integer((json_int_t)s->restart_gap_us)) < 0)) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* ---- back ---- */

/* The fields of a record are read through these: the first that is missing or wrong is
 * named in why, and the rest read as zero. */
typedef struct reader {
        const char *why;
} reader;

/* Any type: ANY; a boolean: JSON_TRUE. */
#define ANY -1

static json_t *field(reader *rd, const json_t *o, const char *key, int type)
{
        json_t *v = json_object_get(o, key);
        bool fits = v && (type == ANY || (int)json_typeof(v) == type ||
                          (type == JSON_TRUE && json_is_boolean(v)));
        if (!fits && !rd->why)
                rd->why = key;
        return fits ? v : NULL;
}

static int64_t get_int(reader *rd, const json_t *o, const char *key)
{
        return json_integer_value(field(rd, o, key, JSON_INTEGER));
}

static bool get_bool(reader *rd, const json_t *o, const char *key)
{
        return json_is_true(field(rd, o, key, JSON_TRUE));
}

/* A string field, or NULL where the record has null (an optional one). */
static const char *get_string(reader *rd, const json_t *o, const char *key, bool optional)
{
        json_t *v = json_object_get(o, key);
        if (optional && (!v || json_is_null(v)))
                return NULL;
        return json_string_value(field(rd, o, key, JSON_STRING));
}

static int64_t get_enum(reader *rd, const json_t *o, const char *key, int64_t max)
{
        int64_t v = get_int(rd, o, key);
        if (v < 0 || v > max) {
                if (!rd->why)
                        rd->why = key;
                return 0;
        }
        return v;
}

static mttd_point get_point(reader *rd, const json_t *o, const char *key)
{
        json_t *a = field(rd, o, key, JSON_ARRAY);
        json_t *t = json_array_get(a, 0), *kb = json_array_get(a, 1);
        if (a && (!json_is_integer(t) || !json_is_integer(kb) || json_array_size(a) != 2) &&
            !rd->why)
                rd->why = key;
        return (mttd_point){(uint64_t)json_integer_value(t), json_integer_value(kb)};
}

static void read_rows(reader *rd, const json_t *o, mttd_rows *r)
{
        *r = (mttd_rows){
            .schedule = {(uint64_t)get_int(rd, o, "min_us"), (uint64_t)get_int(rd, o, "max_us")},
            .next_due_us = (uint64_t)get_int(rd, o, "next_due_us"),
            .last = get_point(rd, o, "last"),
            .held = get_point(rd, o, "held"),
            .max = get_point(rd, o, "max"),
            .peak_min_kb = get_int(rd, o, "peak_min_kb"),
            .have_held = get_bool(rd, o, "have_held"),
            .have_max = get_bool(rd, o, "have_max"),
        };
        if (!rd->why && (r->schedule.min_us == 0 || r->schedule.max_us < r->schedule.min_us))
                rd->why = "min_us";
}

/* The record's progress onto s, made from its identity. */
static int read_progress(reader *rd, const json_t *p, const json_t *rows, mttd_session *s)
{
        mttd_rows r;
        read_rows(rd, rows, &r);
        mttd_phase phase = (mttd_phase)get_enum(rd, p, "phase", MTTD_PHASE_ANNOUNCED);
        s->state = (mttd_state)get_enum(rd, p, "state", MTTD_ERROR);
        s->outcome = (mttd_state)get_enum(rd, p, "outcome", MTTD_ERROR);
        s->end_outcome = (mttd_state)get_enum(rd, p, "end_outcome", MTTD_ERROR);
        const char *cause = get_string(rd, p, "cause", true);
        const char *end_cause = get_string(rd, p, "end_cause", true);
        s->cause_awaited = get_bool(rd, p, "cause_awaited");
        s->write_error = (int)get_int(rd, p, "write_error");
        s->n_rows = (uint64_t)get_int(rd, p, "n_rows");
        s->last_kb = get_int(rd, p, "last_kb");
        s->peak_kb = get_int(rd, p, "peak_kb");
        s->writes_done = (uint64_t)get_int(rd, p, "writes_done");
        s->synced_writes = (uint64_t)get_int(rd, p, "synced_writes");
        s->last_sync_us = (uint64_t)get_int(rd, p, "last_sync_us");
        s->first_written = get_bool(rd, p, "first_written");
        s->may_stall = get_bool(rd, p, "may_stall");
        s->regular = get_bool(rd, p, "regular");
        s->truncate = json_is_true(json_object_get(p, "truncate")); /* an older mttd's: no */
        s->dev = (dev_t)get_int(rd, p, "dev");
        s->end_requested_us = (uint64_t)get_int(rd, p, "end_requested_us");
        json_t *text = field(rd, p, "text", JSON_STRING);
        if (rd->why)
                return -EINVAL;
        if ((cause && !(s->cause = strdup(cause))) ||
            (end_cause && !(s->end_cause = strdup(end_cause))))
                return -ENOMEM;
        return mttd_session_resume(s, phase, &r, json_string_value(text), json_string_length(text));
}

static int read_overlaps(reader *rd, const json_t *record, mttd_session *s)
{
        s->overlaps = (unsigned)get_int(rd, record, "overlaps");
        s->overlaps_other_users = (unsigned)get_int(rd, record, "overlaps_other_users");
        json_t *with = field(rd, record, "overlapped_with", JSON_ARRAY);
        if (rd->why)
                return -EINVAL;
        size_t i;
        json_t *label;
        json_array_foreach(with, i, label)
        {
                if (s->n_overlapped == MTTD_OVERLAP_LABELS)
                        break;
                if (!json_is_string(label)) {
                        rd->why = "overlapped_with";
                        return -EINVAL;
                }
                if (!(s->overlapped[s->n_overlapped] = strdup(json_string_value(label))))
                        return -ENOMEM;
                s->n_overlapped++;
        }
        return 0;
}

int mttd_snapshot_restore(const json_t *record, mttd_session **out, const char **why)
{
        reader rd = {NULL};
        const json_t *id = field(&rd, record, "identity", JSON_OBJECT);
        const json_t *p = field(&rd, record, "progress", JSON_OBJECT);
        const json_t *rows = field(&rd, record, "rows", JSON_OBJECT);
        if (rd.why) {
                *why = rd.why;
                return -EINVAL;
        }
        const char *label = get_string(&rd, id, "label", false);
        const char *job = get_string(&rd, id, "job", true);
        /* A record from before the GPU scopes has no gpu: none. */
        json_t *gpu = json_object_get(id, "gpu");
        mttd_session_params params = {
            .label = label,
            .job = job && job[0] ? job : NULL,
            .scope = (mttd_scope)get_enum(&rd, id, "scope", MTTD_SCOPE_LAST),
            .pid = (pid_t)get_int(&rd, id, "tracked_pid"),
            .gpu = json_is_integer(gpu) ? (int)json_integer_value(gpu) : -1,
            .calibrate = get_bool(&rd, id, "calibrate"),
            .min_interval_us = (uint64_t)get_int(&rd, rows, "min_us"),
            .max_interval_us = (uint64_t)get_int(&rd, rows, "max_us"),
            .peak_min_kb = get_int(&rd, rows, "peak_min_kb"),
        };
        uint64_t sid = (uint64_t)get_int(&rd, id, "id");
        pid_t pid = (pid_t)get_int(&rd, id, "pid");
        uid_t uid = (uid_t)get_int(&rd, id, "uid");
        uint64_t t0 = (uint64_t)get_int(&rd, id, "t0_us");
        uint64_t started_wall_us = (uint64_t)get_int(&rd, id, "started_wall_us");
        uint64_t end_us = (uint64_t)get_int(&rd, id, "end_us");
        json_t *baseline = field(&rd, id, "baseline_kb", ANY);
        if (!rd.why && !json_is_number(baseline))
                rd.why = "baseline_kb";
        if (!rd.why && (params.gpu < -1 || params.gpu > MTT_PROTO_GPU_INDEX_MAX ||
                        (gpu && !json_is_integer(gpu))))
                rd.why = "gpu";
        if (!rd.why && (sid == 0 || strlen(label) > MTT_PROTO_LABEL_MAX))
                rd.why = sid == 0 ? "id" : "label";
        if (!rd.why && job && mtt_proto_job_unfit(job))
                rd.why = "job";
        if (rd.why) {
                *why = rd.why;
                return -EINVAL;
        }
        mttd_session *s;
        int r =
            mttd_session_new(sid, &params, pid, uid, -1, t0, 0, json_number_value(baseline), &s);
        if (r < 0)
                return r;
        s->baseline_kb = json_number_value(baseline); /* also when not calibrated: as it was */
        s->started_wall_us = started_wall_us;
        s->end_us = end_us;
        r = read_progress(&rd, p, rows, s);
        if (r == 0)
                r = read_overlaps(&rd, record, s);
        if (r == 0) {
                s->restarts = (unsigned)get_int(&rd, record, "restarts");
                s->restart_gap_us = (uint64_t)get_int(&rd, record, "restart_gap_us");
                r = rd.why ? -EINVAL : 0;
        }
        if (r < 0) {
                *why = rd.why ? rd.why : "out of memory";
                mttd_session_free(s);
                return r;
        }
        *out = s;
        return 0;
}

json_t *mttd_snapshot_new(json_t *sessions)
{
        return json_pack("{s:i, s:o}", "version", MTTD_SNAPSHOT_VERSION, "sessions", sessions);
}

int mttd_snapshot_parse(const char *text, size_t len, json_t **sessions, const char **why)
{
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        if (!doc) {
                *why = "the saved state is not whole (truncated?)";
                return -EBADMSG;
        }
        json_t *version = json_object_get(doc, "version");
        if (!json_is_integer(version) || json_integer_value(version) != MTTD_SNAPSHOT_VERSION) {
                *why = "the saved state is of a version this mttd does not know";
                json_decref(doc);
                return -EPROTONOSUPPORT;
        }
        json_t *a = json_object_get(doc, "sessions");
        if (!json_is_array(a)) {
                *why = "the saved state has no sessions";
                json_decref(doc);
                return -EINVAL;
        }
        *sessions = json_incref(a);
        json_decref(doc);
        return 0;
}

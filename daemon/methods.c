/* Method dispatch: parameter checks, ownership, and the tracker calls behind them. */
#include "methods.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mtt-version.h"
#include "proto/interface.h"
#include "proto/text.h"
#include "clock.h"
#include "gpus.h"
#include "peer.h"
#include "target.h"

typedef json_t *(*method_fn)(mttd_request *req);

static json_t *varlink_invalid(const char *parameter)
{
        return mtt_proto_error_param_new(MTT_PROTO_ERROR_VARLINK_PARAMETER, parameter, NULL);
}

static json_t *tracker_invalid(const char *parameter, const char *reason)
{
        return mtt_proto_error_param_new(MTT_PROTO_ERROR_INVALID_PARAMETER, parameter, reason);
}

static json_t *session_error(const char *error, uint64_t id)
{
        return mtt_proto_error_new(error, json_pack("{s:I}", "id", (json_int_t)id));
}

static json_t *session_json(mttd_tracker *t, const mttd_session *s)
{
        mttd_session_view v;
        mttd_tracker_view(t, &v);
        return mttd_session_json(s, &v);
}

json_t *mttd_methods_session_reply(mttd_tracker *t, const mttd_session *s, bool continues)
{
        return mtt_proto_reply_new(json_pack("{s:o}", "session", session_json(t, s)), continues);
}

json_t *mttd_methods_row_reply(const mttd_session *s, uint64_t t_us, double ram_gib)
{
        return mtt_proto_reply_new(json_pack("{s:I, s:f, s:f}", "id", (json_int_t)s->id, "delta",
                                             (double)t_us / 1e6, "ram", ram_gib),
                                   true);
}

bool mttd_methods_may_see(const struct ucred *peer, const mttd_session *s)
{
        return peer->uid == 0 || peer->uid == s->uid;
}

static bool may_see(const mttd_request *req, const mttd_session *s)
{
        return mttd_methods_may_see(req->peer, s);
}

/* Finds a session the caller may act on, or sets *err to the reply that says why not. */
static mttd_session *owned_session(const mttd_request *req, int64_t id, json_t **err)
{
        mttd_session *s = id > 0 ? mttd_tracker_find(req->tracker, (uint64_t)id) : NULL;
        if (!s)
                *err = session_error(MTT_PROTO_ERROR_NO_SUCH_SESSION, (uint64_t)id);
        else if (!may_see(req, s))
                *err = session_error(MTT_PROTO_ERROR_PERMISSION_DENIED, (uint64_t)id);
        return *err ? NULL : s;
}

static json_t *get_info(mttd_request *req)
{
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, (mtt_proto_field[]){{0}}, NULL, &bad) < 0)
                return varlink_invalid(bad);
        return mtt_proto_reply_new(json_pack("{s:s, s:s, s:s, s:s, s:[s,s]}", "vendor", "mtt",
                                             "product", "mttd", "version", MTT_VERSION, "url",
                                             "https://varlink.org", "interfaces", MTT_PROTO_SERVICE,
                                             MTT_PROTO_INTERFACE),
                                   false);
}

static json_t *get_interface_description(mttd_request *req)
{
        struct {
                const char *interface;
        } p = {0};
        static const mtt_proto_field fields[] = {
            {"interface", MTT_PROTO_STRING, true, 0},
            {0},
        };
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, fields, &p, &bad) < 0)
                return varlink_invalid(bad);
        const char *text = mtt_proto_interface_description(p.interface);
        if (!text)
                return mtt_proto_error_new(MTT_PROTO_ERROR_INTERFACE_NOT_FOUND,
                                           json_pack("{s:s}", "interface", p.interface));
        return mtt_proto_reply_new(json_pack("{s:s}", "description", text), false);
}

/* SPEC 8: open for writing, and a regular file on a real file system, a pipe or FIFO, or a
 * character device. */
static const char *fd_unfit(int fd, mttd_fd_kind *kind)
{
        if (mttd_fd_kind_of(fd, kind) < 0)
                return "the file descriptor cannot be examined";
        mode_t mode = kind->mode;
        if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISCHR(mode))
                return "not a regular file, pipe, FIFO or character device";
        if (kind->pseudo)
                return "a file of procfs, sysfs or another pseudo file system";
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || (fl & O_PATH))
                return "the file descriptor cannot be written";
        if ((fl & O_ACCMODE) != O_WRONLY && (fl & O_ACCMODE) != O_RDWR)
                return "not open for writing";
        return NULL;
}

static json_t *invalid_fd(const char *reason)
{
        return mtt_proto_error_new(MTT_PROTO_ERROR_INVALID_FD,
                                   json_pack("{s:s}", "reason", reason));
}

/* Open's gpu when the call has none. */
#define NO_GPU INT64_MIN

/* Open's parameters, as the call gave them or their defaults. */
typedef struct open_params {
        int64_t fd;
        const char *label;
        bool calibrate;
        bool truncate;
        int64_t min_interval_us;
        int64_t max_interval_s;
        const char *scope;
        int64_t pid;
        const char *job; /* "": none */
        int64_t gpu;     /* NO_GPU: every GPU */
} open_params;

/* Parses and checks Open's parameters: NULL, or the error reply. */
static json_t *open_params_check(const mttd_request *req, const mttd_config *cfg, open_params *p,
                                 mttd_scope *scope)
{
        *p = (open_params){
            .fd = -1,
            .label = "",
            .scope = MTT_PROTO_SCOPE_SYSTEM,
            .job = "",
            .gpu = NO_GPU,
            .calibrate = true,
            .min_interval_us = (int64_t)cfg->min_interval_us,
            .max_interval_s = (int64_t)(cfg->max_interval_us / 1000000),
        };
        static const mtt_proto_field fields[] = {
            {"fd", MTT_PROTO_INT, true, offsetof(open_params, fd)},
            {"label", MTT_PROTO_STRING, false, offsetof(open_params, label)},
            {"calibrate", MTT_PROTO_BOOL, false, offsetof(open_params, calibrate)},
            {"truncate", MTT_PROTO_BOOL, false, offsetof(open_params, truncate)},
            {"min_interval_us", MTT_PROTO_INT, false, offsetof(open_params, min_interval_us)},
            {"max_interval_s", MTT_PROTO_INT, false, offsetof(open_params, max_interval_s)},
            {"scope", MTT_PROTO_STRING, false, offsetof(open_params, scope)},
            {"pid", MTT_PROTO_INT, false, offsetof(open_params, pid)},
            {"job", MTT_PROTO_STRING, false, offsetof(open_params, job)},
            {"gpu", MTT_PROTO_INT, false, offsetof(open_params, gpu)},
            {0},
        };
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, fields, p, &bad) < 0)
                return varlink_invalid(bad);
        if (strlen(p->label) > MTT_PROTO_LABEL_MAX)
                return tracker_invalid(
                    "label", "longer than " MTT_PROTO_STRINGIFY(MTT_PROTO_LABEL_MAX) " bytes");
        const char *why = mtt_proto_job_unfit(p->job);
        if (why)
                return tracker_invalid("job", why);
        if (p->min_interval_us < (int64_t)cfg->floor_interval_us ||
            p->min_interval_us > MTT_PROTO_MIN_INTERVAL_US_HI)
                return tracker_invalid("min_interval_us", "out of range");
        if (p->max_interval_s < MTT_PROTO_MAX_INTERVAL_S_LO ||
            p->max_interval_s > MTT_PROTO_MAX_INTERVAL_S_HI ||
            p->max_interval_s * 1000000 < p->min_interval_us)
                return tracker_invalid("max_interval_s", "out of range");
        if (mttd_scope_of(p->scope, scope) < 0)
                return tracker_invalid("scope",
                                       "must be " MTT_PROTO_SCOPE_SYSTEM
                                       ", " MTT_PROTO_SCOPE_PROCESS ", " MTT_PROTO_SCOPE_CGROUP
                                       ", " MTT_PROTO_SCOPE_GPU " or " MTT_PROTO_SCOPE_GPU_DEVICE);
        if (p->pid < 0 || p->pid > INT32_MAX || (p->pid > 0 && !mttd_scope_has_process(*scope)))
                return tracker_invalid("pid", "a process ID, for the process, cgroup or gpu scope");
        if (p->gpu != NO_GPU &&
            (*scope != MTTD_SCOPE_GPU_DEVICE || p->gpu < 0 || p->gpu > MTT_PROTO_GPU_INDEX_MAX))
                return tracker_invalid(
                    "gpu",
                    "a GPU's index from 0 to " MTT_PROTO_STRINGIFY(
                        MTT_PROTO_GPU_INDEX_MAX) ", for the " MTT_PROTO_SCOPE_GPU_DEVICE " scope");
        if (p->fd < 0 || (uint64_t)p->fd >= req->frame->n_fds)
                return invalid_fd("no file descriptor passed at that index");
        return NULL;
}

/* The process a scope names (asked: 0 for the caller), held by a pidfd before its owner is
 * checked on it: NULL with *pid and *pidfd set, or the error reply. */
static json_t *open_target(const mttd_request *req, int64_t asked, pid_t *pid, int *pidfd)
{
        int r = mttd_target_take(req->peer, req->conn_fd, (pid_t)asked, pid, pidfd);
        if (r == -EPERM)
                return mtt_proto_error_new(MTT_PROTO_ERROR_PERMISSION_DENIED,
                                           json_pack("{s:I}", "pid", (json_int_t)asked));
        if (r == -ESRCH && asked == 0)
                return tracker_invalid("pid", "the process that connected has exited");
        if (r == -ESRCH)
                return tracker_invalid("pid", "no such process");
        if (r < 0) /* out of fds or memory: no verdict on the process */
                return mtt_proto_error_new(MTT_PROTO_ERROR_INTERNAL,
                                           json_pack("{s:s}", "reason", strerror(-r)));
        return NULL;
}

/* Who opens: the connection and its client process, whose pidfd explains an end without
 * Close: one for the sessions that run at the same time on this connection; a new one, with
 * the OOM counts of now, once none runs. */
static mttd_opener opener_of(mttd_request *req)
{
        if (!*req->client || req->owner->running == 0) {
                mttd_peer_unref(*req->client);
                *req->client = mttd_peer_new(req->conn_fd, req->peer->pid);
        }
        return (mttd_opener){
            .uid = req->peer->uid,
            .pid = req->peer->pid,
            .owner = req->owner,
            .peer = *req->client,
        };
}

static json_t *gpu_unavailable(const char *reason)
{
        char text[256];
        snprintf(text, sizeof(text), "%s", reason);
        mtt_proto_printable(text); /* a library's words are not ours: valid UTF-8 for JSON */
        return mtt_proto_error_new(MTT_PROTO_ERROR_GPU_UNAVAILABLE,
                                   json_pack("{s:s}", "reason", text));
}

/* Whether an Open of a GPU scope may go on: NULL, or the error reply, or NULL with
 * req->waiting_gpus set when NVML's presence is not known yet (it is loaded off the loop:
 * the call is handled again once it is). */
static json_t *open_gpus_check(mttd_request *req, const open_params *p)
{
        const char *why;
        mttd_gpus *g = mttd_tracker_gpus(req->tracker);
        mttd_gpus_state st = mttd_gpus_state_now(g, mttd_now_us(), 0, &why);
        if (st == MTTD_GPUS_WAIT) {
                req->waiting_gpus = true;
                return NULL;
        }
        if (st != MTTD_GPUS_READY)
                return gpu_unavailable(why);
        const mttd_gpu *gpus;
        unsigned count = mttd_gpus_reading(g, &gpus);
        if (p->gpu >= (int64_t)count) {
                char text[96];
                snprintf(text, sizeof(text), "no GPU %d: NVML counts %u (0 to %u)", (int)p->gpu,
                         count, count - 1);
                return gpu_unavailable(text);
        }
        return NULL;
}

/* The reply to an Open the tracker refused (r < 0). */
static json_t *open_refused(int r, const mttd_config *cfg)
{
        if (r == -EUSERS)
                return mtt_proto_error_new(MTT_PROTO_ERROR_TOO_MANY_SESSIONS,
                                           json_pack("{s:i}", "limit", cfg->max_sessions_per_uid));
        if (r == -ESRCH)
                return tracker_invalid("pid", "no such process");
        if (r == -ENOENT)
                return tracker_invalid("scope", "the process has no memory cgroup mttd can read");
        return mtt_proto_error_new(MTT_PROTO_ERROR_INTERNAL,
                                   json_pack("{s:s}", "reason", strerror(-r)));
}

static json_t *open_session(mttd_request *req)
{
        const mttd_config *cfg = mttd_tracker_config(req->tracker);
        open_params p;
        mttd_scope scope;
        json_t *err = open_params_check(req, cfg, &p, &scope);
        if (err)
                return err;
        int fd = req->frame->fds[p.fd];
        mttd_fd_kind kind;
        const char *why = fd_unfit(fd, &kind);
        if (why)
                return invalid_fd(why);
        if (mttd_scope_is_gpu(scope) && ((err = open_gpus_check(req, &p)) || req->waiting_gpus))
                return err;
        pid_t pid = 0;
        int pidfd = -1;
        if (mttd_scope_has_process(scope) && (err = open_target(req, p.pid, &pid, &pidfd)))
                return err;
        mttd_session_params sp = {
            .label = p.label,
            .job = p.job[0] ? p.job : NULL,
            .scope = scope,
            .pid = pid,
            .gpu = p.gpu == NO_GPU ? -1 : (int)p.gpu,
            .calibrate = p.calibrate,
            .truncate = p.truncate,
            .min_interval_us = (uint64_t)p.min_interval_us,
            .max_interval_us = (uint64_t)p.max_interval_s * 1000000,
            .peak_min_kb = cfg->peak_min_kb,
        };
        const mttd_opener by = opener_of(req);
        mttd_session *s;
        bool written;
        int r = mttd_tracker_open(req->tracker, &sp, fd, &kind, pidfd, &by, &s, &written);
        if (r < 0)
                return open_refused(r, cfg);
        mtt_proto_frame_take_fd(req->frame, (size_t)p.fd); /* the session has it now */
        /* The reply waits until the report has its header, so the caller finds it there. */
        if (!written && !req->call->oneway) {
                req->waiting_on = s;
                req->waiting_open = true;
                return NULL;
        }
        return mttd_methods_session_reply(req->tracker, s, false);
}

static json_t *close_session(mttd_request *req)
{
        struct {
                int64_t id;
                const char *outcome;
                const char *cause;
        } p = {0};
        static const mtt_proto_field fields[] = {
            {"id", MTT_PROTO_INT, true, offsetof(typeof(p), id)},
            {"outcome", MTT_PROTO_STRING, true, offsetof(typeof(p), outcome)},
            {"cause", MTT_PROTO_STRING, false, offsetof(typeof(p), cause)},
            {0},
        };
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, fields, &p, &bad) < 0)
                return varlink_invalid(bad);
        mttd_state outcome;
        if (strcmp(p.outcome, MTT_PROTO_COMPLETED) == 0)
                outcome = MTTD_COMPLETED;
        else if (strcmp(p.outcome, MTT_PROTO_FAILED) == 0)
                outcome = MTTD_FAILED;
        else if (strcmp(p.outcome, MTT_PROTO_CRASHED) == 0)
                outcome = MTTD_CRASHED;
        else
                return tracker_invalid("outcome", "must be " MTT_PROTO_COMPLETED
                                                  ", " MTT_PROTO_FAILED " or " MTT_PROTO_CRASHED);
        if (p.cause && strlen(p.cause) > MTT_PROTO_CAUSE_MAX)
                return tracker_invalid(
                    "cause", "longer than " MTT_PROTO_STRINGIFY(MTT_PROTO_CAUSE_MAX) " bytes");
        json_t *err = NULL;
        mttd_session *s = owned_session(req, p.id, &err);
        if (!s)
                return err;
        /* The reply waits until the report is synced, so the caller may read it at once. */
        bool told;
        mttd_tracker_close(req->tracker, s, outcome, p.cause, &told);
        if (!told && !req->call->oneway) {
                req->waiting_on = s;
                return NULL;
        }
        return mttd_methods_session_reply(req->tracker, s, false);
}

static json_t *list_sessions(mttd_request *req)
{
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, (mtt_proto_field[]){{0}}, NULL, &bad) < 0)
                return varlink_invalid(bad);
        json_t *a = json_array();
        for (mttd_session *s = mttd_tracker_first(req->tracker); s && a; s = mttd_table_next(s))
                if (may_see(req, s))
                        json_array_append_new(a, session_json(req->tracker, s));
        return mtt_proto_reply_new(json_pack("{s:o}", "sessions", a), false);
}

static json_t *status_session(mttd_request *req)
{
        struct {
                int64_t id;
        } p = {0};
        static const mtt_proto_field fields[] = {
            {"id", MTT_PROTO_INT, true, 0},
            {0},
        };
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, fields, &p, &bad) < 0)
                return varlink_invalid(bad);
        json_t *err = NULL;
        mttd_session *s = owned_session(req, p.id, &err);
        return s ? mttd_methods_session_reply(req->tracker, s, false) : err;
}

/* Each GPU's name and memory from the GPUs' latest reading, or why there are none
 * ("gpu_error"): the reading is made off the loop (gpus.h). */
static int sample_gpus(mttd_request *req, json_t *reply, mttd_gpus_state st, const char *why)
{
        json_t *a = json_array();
        if (!a || json_object_set_new(reply, "gpus", a) < 0)
                return -ENOMEM;
        /* A library's words and a device's name are not ours: valid UTF-8 for JSON. */
        if (st != MTTD_GPUS_READY) {
                char text[256];
                snprintf(text, sizeof(text), "%s", why);
                mtt_proto_printable(text);
                return json_object_set_new(reply, "gpu_error", json_string(text));
        }
        const mttd_gpu *gpus;
        unsigned n = mttd_gpus_reading(mttd_tracker_gpus(req->tracker), &gpus);
        for (unsigned i = 0; i < n; i++) {
                mttd_gpu g = gpus[i];
                mtt_proto_printable(g.name);
                mtt_proto_printable(g.why);
                json_t *o = json_pack("{s:i, s:s, s:I, s:I}", "index", (int)g.index, "name", g.name,
                                      "used_bytes", (json_int_t)g.used_bytes, "total_bytes",
                                      (json_int_t)g.total_bytes);
                if (o && g.error)
                        json_object_set_new(o, "error", json_string(g.why));
                if (!o || json_array_append_new(a, o) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static json_t *sample(mttd_request *req)
{
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, (mtt_proto_field[]){{0}}, NULL, &bad) < 0)
                return varlink_invalid(bad);
        /* The GPUs as a read begun at this call finds them (a GPU session's read at the
         * next fine tick, or one for this call): the call is handled again then. */
        const char *why;
        uint64_t now = mttd_now_us(), since = req->gpus_since_us ? req->gpus_since_us : now;
        mttd_gpus_state gst =
            mttd_gpus_state_now(mttd_tracker_gpus(req->tracker), now, since, &why);
        if (gst == MTTD_GPUS_WAIT) {
                req->waiting_gpus = true;
                req->gpus_since_us = since;
                return NULL;
        }
        mttd_meminfo m;
        int r = mttd_tracker_sample(req->tracker, &m);
        if (r < 0)
                return mtt_proto_error_new(MTT_PROTO_ERROR_INTERNAL,
                                           json_pack("{s:s}", "reason", strerror(-r)));
        json_t *reading =
            json_pack("{s:f, s:I, s:I, s:I, s:I, s:I}", "used",
                      mttd_kb_to_gib((double)mttd_meminfo_used_kb(&m)), "mem_total_kb",
                      (json_int_t)m.mem_total, "mem_free_kb", (json_int_t)m.mem_free, "buffers_kb",
                      (json_int_t)m.buffers, "cached_kb", (json_int_t)m.cached, "slab_kb",
                      (json_int_t)m.slab);
        /* What the one shared read buys: rows and session feeds per sample. */
        const mttd_tracker_stats *st = mttd_tracker_stats_of(req->tracker);
        json_t *stats =
            json_pack("{s:I, s:I, s:I, s:f, s:i}", "samples", (json_int_t)st->samples,
                      "rows_written", (json_int_t)st->rows_written, "sessions_served",
                      (json_int_t)st->sessions_served, "sessions_per_sample",
                      st->samples ? (double)st->sessions_served / (double)st->samples : 0.0,
                      "running", (int)mttd_tracker_running(req->tracker));
        json_t *reply = json_pack("{s:o, s:o}", "reading", reading, "stats", stats);
        if (!reply || sample_gpus(req, reply, gst, why) < 0) {
                json_decref(reply);
                return NULL;
        }
        return mtt_proto_reply_new(reply, false);
}

/* Watch(id) streams the session: itself, its rows as they are made, and itself again,
 * ended, as the last reply. Watch() streams every session the caller may see, with no end. */
static json_t *watch(mttd_request *req)
{
        struct {
                int64_t id;
        } p = {.id = -1};
        static const mtt_proto_field fields[] = {
            {"id", MTT_PROTO_INT, false, 0},
            {0},
        };
        const char *bad;
        if (mtt_proto_params_parse(req->call->parameters, fields, &p, &bad) < 0)
                return varlink_invalid(bad);
        if (!req->call->more || req->call->oneway)
                return mtt_proto_error_new(MTT_PROTO_ERROR_EXPECTED_MORE, NULL);
        if (p.id == -1) {
                json_t *a = json_array();
                for (mttd_session *s = mttd_tracker_first(req->tracker); s && a;
                     s = mttd_table_next(s))
                        if (mttd_session_running(s) && may_see(req, s))
                                json_array_append_new(a, session_json(req->tracker, s));
                req->watch = true;
                return mtt_proto_reply_new(json_pack("{s:o}", "sessions", a), true);
        }
        json_t *err = NULL;
        mttd_session *s = owned_session(req, p.id, &err);
        if (!s)
                return err;
        if (s->phase ==
            MTTD_PHASE_ANNOUNCED) /* nothing more will come: the whole story in one reply */
                return mttd_methods_session_reply(req->tracker, s, false);
        req->watch = true;
        req->watch_session = s;
        return mttd_methods_session_reply(req->tracker, s, true);
}

json_t *mttd_methods_dispatch(mttd_request *req)
{
        static const struct {
                const char *name;
                method_fn fn;
        } methods[] = {
            {MTT_PROTO_SERVICE ".GetInfo", get_info},
            {MTT_PROTO_SERVICE ".GetInterfaceDescription", get_interface_description},
            {MTT_PROTO_METHOD_OPEN, open_session},
            {MTT_PROTO_METHOD_CLOSE, close_session},
            {MTT_PROTO_METHOD_LIST, list_sessions},
            {MTT_PROTO_METHOD_STATUS, status_session},
            {MTT_PROTO_METHOD_SAMPLE, sample},
            {MTT_PROTO_METHOD_WATCH, watch},
        };
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                if (strcmp(methods[i].name, req->call->method) != 0)
                        continue;
                json_t *reply = methods[i].fn(req);
                if (!reply && !req->waiting_on && !req->waiting_gpus) {
                        req->watch = false;
                        reply = mtt_proto_error_new(MTT_PROTO_ERROR_INTERNAL,
                                                    json_pack("{s:s}", "reason", "out of memory"));
                }
                return reply;
        }
        return mtt_proto_error_new(MTT_PROTO_ERROR_METHOD_NOT_FOUND,
                                   json_pack("{s:s}", "method", req->call->method));
}

/* libmtt-client sessions: Open and Close over the daemon's varlink socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "mtt/client.h"
#include "proto/connection.h"
#include "proto/interface.h"
#include "proto/text.h"

#define DEFAULT_TIMEOUT_MS 30000

/* A field added to mtt_options takes a reserved slot: the size and every other field's
 * offset stay, so a program built against an older header runs with this library. */
_Static_assert(sizeof(mtt_options) == 9 * sizeof(void *) + 6 * sizeof(int32_t),
               "mtt_options keeps its size");
_Static_assert(offsetof(mtt_options, job) == 2 * sizeof(void *) + 6 * sizeof(int32_t),
               "mtt_options' job is where the first reserved slot was");
_Static_assert(MTT_SCOPE_GPU_DEVICE + 1 == MTT_PROTO_SCOPES, "mtt_scope counts the protocol's");
_Static_assert(offsetof(mtt_options, gpu_device) == offsetof(mtt_options, job) + sizeof(void *),
               "mtt_options' gpu_device is where the second reserved slot was");
_Static_assert(offsetof(mtt_options, reserved) == offsetof(mtt_options, job) + 2 * sizeof(void *),
               "mtt_options' reserved slots stay where they were");

struct mtt_session {
        mtt_proto_conn conn; /* the session's heartbeat: closing it ends the session */
        uint64_t id;
        int timeout_ms;
};

const char *mtt_socket_path(const mtt_options *opts, char *buf, size_t size)
{
        if (opts && opts->socket_path) {
                int n = snprintf(buf, size, "%s", opts->socket_path);
                return n >= 0 && (size_t)n < size ? buf : NULL;
        }
        return mtt_proto_client_socket(buf, size);
}

static int timeout_of(const mtt_options *opts)
{
        if (!opts || opts->timeout_ms == 0)
                return DEFAULT_TIMEOUT_MS;
        return opts->timeout_ms < 0 ? -1 : opts->timeout_ms;
}

static const char *from_environ(void *ctx, const char *name)
{
        return getenv(name);
}

/* Open's job: the caller's ("": none), else the one the environment names; NULL for none. */
static const char *job_of(const mtt_options *opts, char *buf, size_t size)
{
        const char *job = opts ? opts->job : NULL;
        if (!job && mtt_job_from_env(buf, size, from_environ, NULL) == 1)
                job = buf;
        return job && job[0] ? job : NULL;
}

static json_t *open_params(const mtt_options *opts)
{
        json_t *p = json_pack("{s:i}", "fd", 0);
        char env_job[MTT_PROTO_JOB_MAX + 1];
        const char *job = job_of(opts, env_job, sizeof(env_job));
        if (p && job)
                json_object_set_new(p, "job", json_string(job));
        if (!p || !opts)
                return p;
        if (opts->label)
                json_object_set_new(p, "label", json_string(opts->label));
        if (opts->calibrate != MTT_CALIBRATE_DEFAULT)
                json_object_set_new(p, "calibrate",
                                    json_boolean(opts->calibrate == MTT_CALIBRATE_ON));
        if (opts->min_interval_us)
                json_object_set_new(p, "min_interval_us", json_integer(opts->min_interval_us));
        if (opts->max_interval_s)
                json_object_set_new(p, "max_interval_s", json_integer(opts->max_interval_s));
        if (opts->scope > MTT_SCOPE_SYSTEM && opts->scope <= MTT_SCOPE_GPU_DEVICE)
                json_object_set_new(p, "scope", json_string(mtt_proto_scope_names[opts->scope]));
        if (opts->pid > 0)
                json_object_set_new(p, "pid", json_integer(opts->pid));
        if (opts->gpu_device > 0) /* checked: the gpu-device scope's */
                json_object_set_new(p, "gpu", json_integer(opts->gpu_device - 1));
        return p;
}

/* A reply as an errno: 0 for success, the varlink error's errno otherwise, or the errno of
 * the daemon's failed write into the report (the session in the reply says so); -EIO for
 * any other session in error (one a restarted mttd could not resume: its cause says why). */
static int reply_errno(const mtt_proto_reply *r)
{
        if (r->error)
                return mtt_proto_error_to_errno(r->error);
        json_t *session = json_object_get(r->parameters, "session");
        json_t *err = json_object_get(session, "errno");
        if (json_is_integer(err) && json_integer_value(err) > 0)
                return -(int)json_integer_value(err);
        const char *state = json_string_value(json_object_get(session, "state"));
        return json_is_string(json_object_get(session, "error")) ||
                       (state && strcmp(state, MTT_PROTO_ERROR) == 0)
                   ? -EIO
                   : 0;
}

static void session_free(mtt_session *s)
{
        mtt_proto_conn_close(&s->conn);
        free(s);
}

/* A scope the library knows, and a GPU for the gpu-device scope only. */
static bool scope_fits(const mtt_options *opts)
{
        if ((unsigned)opts->scope > MTT_SCOPE_GPU_DEVICE)
                return false;
        if (opts->gpu_device == 0)
                return true;
        return opts->scope == MTT_SCOPE_GPU_DEVICE && opts->gpu_device > 0 &&
               opts->gpu_device <= MTT_GPU_DEVICE(MTT_PROTO_GPU_INDEX_MAX);
}

/* Checks the options and connects, before anything touches the report file. */
static int session_connect(const mtt_options *opts, mtt_session **out)
{
        if (opts && opts->label && !mtt_proto_utf8_valid(opts->label))
                return -EINVAL;
        if (opts && opts->job && mtt_proto_job_unfit(opts->job))
                return -EINVAL;
        if (opts && !scope_fits(opts))
                return -EINVAL;
        char path[PATH_MAX];
        if (!mtt_socket_path(opts, path, sizeof(path)))
                return -ENAMETOOLONG;
        mtt_session *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->timeout_ms = timeout_of(opts);
        int r = mtt_proto_conn_open(&s->conn, path);
        if (r < 0) {
                session_free(s);
                return r;
        }
        *out = s;
        return 0;
}

/* Whether a reply is an mttd's from before Open's truncate, refusing that parameter. */
static bool truncate_unknown(const mtt_proto_reply *r)
{
        const char *name = json_string_value(json_object_get(r->parameters, "parameter"));
        return r->error && strcmp(r->error, MTT_PROTO_ERROR_VARLINK_PARAMETER) == 0 && name &&
               strcmp(name, "truncate") == 0;
}

/* Open; with truncate, mttd empties the file once the session is open. */
static int session_start(mtt_session *s, int fd, const mtt_options *opts, bool truncate)
{
        json_t *params = open_params(opts);
        if (params && truncate && json_object_set_new(params, "truncate", json_true()) < 0) {
                json_decref(params);
                params = NULL;
        }
        if (!params)
                return -ENOMEM;
        mtt_proto_reply reply;
        int r = mtt_proto_conn_call(&s->conn, MTT_PROTO_METHOD_OPEN, params, &fd, 1, s->timeout_ms,
                                    &reply);
        if (r < 0)
                return r;
        if (truncate && truncate_unknown(&reply)) { /* an older mttd: empty it here, as it did */
                mtt_proto_reply_done(&reply);
                if (ftruncate(fd, 0) < 0 && errno != EINVAL) /* EINVAL: not a regular file */
                        return -errno;
                return session_start(s, fd, opts, false);
        }
        r = reply_errno(&reply);
        json_t *id = json_object_get(json_object_get(reply.parameters, "session"), "id");
        if (r == 0 && !json_is_integer(id))
                r = -EPROTO;
        if (r == 0)
                s->id = (uint64_t)json_integer_value(id);
        mtt_proto_reply_done(&reply);
        return r;
}

int mtt_open_fd(int fd, const mtt_options *opts, mtt_session **out)
{
        if (fd < 0 || !out)
                return -EINVAL;
        mtt_session *s;
        int r = session_connect(opts, &s);
        if (r < 0)
                return r;
        r = session_start(s, fd, opts, false);
        if (r < 0) {
                session_free(s);
                return r;
        }
        *out = s;
        return 0;
}

/* For a GPU scope, whether mttd reads the GPUs it needs, asked (Sample) before the report is
 * touched: 0, or -ENODEV where it reads none or not that one. Open has the last word. */
static int gpus_there(mtt_session *s, const mtt_options *opts)
{
        if (!opts || (opts->scope != MTT_SCOPE_GPU && opts->scope != MTT_SCOPE_GPU_DEVICE))
                return 0;
        mtt_proto_reply reply;
        int r = mtt_proto_conn_call(&s->conn, MTT_PROTO_METHOD_SAMPLE, NULL, NULL, 0, s->timeout_ms,
                                    &reply);
        if (r < 0)
                return r;
        if (reply.error) {
                r = mtt_proto_error_to_errno(reply.error);
        } else {
                size_t n = json_array_size(json_object_get(reply.parameters, "gpus"));
                int index = opts->gpu_device - 1; /* -1: every GPU */
                if (n == 0 || (opts->scope == MTT_SCOPE_GPU_DEVICE && index >= (int)n))
                        r = -ENODEV;
        }
        mtt_proto_reply_done(&reply);
        return r;
}

/* Removes the file mtt_open made at path, fd's: not one put there since by someone else. */
static void unlink_made(const char *path, int fd)
{
        struct stat made, there;
        if (fstat(fd, &made) == 0 && lstat(path, &there) == 0 && made.st_dev == there.st_dev &&
            made.st_ino == there.st_ino)
                unlink(path);
}

int mtt_open(const char *csv_path, const mtt_options *opts, mtt_session **out)
{
        if (!csv_path || !out)
                return -EINVAL;
        /* No daemon, no truncated report: connect first; and no GPU, no truncated report.
         * The file is emptied by mttd once the session is open: a refused Open (a limit, an
         * option past mttd's) leaves an existing report as it was. */
        mtt_session *s;
        int r = session_connect(opts, &s);
        if (r == 0 && (r = gpus_there(s, opts)) < 0)
                session_free(s);
        if (r < 0)
                return r;
        bool made = true; /* by this call: a failure removes it */
        int fd = open(csv_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) {
                made = false;
                fd = open(csv_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
        }
        r = fd < 0 ? -errno : session_start(s, fd, opts, true);
        if (r < 0 && fd >= 0 && made)
                unlink_made(csv_path, fd);
        if (fd >= 0)
                close(fd);
        if (r < 0) {
                session_free(s);
                return r;
        }
        *out = s;
        return 0;
}

int mtt_close_with_cause(mtt_session *s, mtt_outcome outcome, const char *cause)
{
        static const char *const names[] = {MTT_PROTO_COMPLETED, MTT_PROTO_FAILED,
                                            MTT_PROTO_CRASHED};
        if (!s)
                return -EINVAL;
        int r = -EINVAL;
        if ((unsigned)outcome > MTT_CRASHED)
                goto out;
        json_t *params =
            json_pack("{s:I, s:s}", "id", (json_int_t)s->id, "outcome", names[outcome]);
        if (params && cause && json_object_set_new(params, "cause", json_string(cause)) < 0) {
                json_decref(params);
                params = NULL;
        }
        if (!params) {
                r = cause ? -EINVAL : -ENOMEM;
                goto out;
        }
        mtt_proto_reply reply;
        r = mtt_proto_conn_call(&s->conn, MTT_PROTO_METHOD_CLOSE, params, NULL, 0, s->timeout_ms,
                                &reply);
        if (r < 0)
                goto out;
        r = reply_errno(&reply);
        mtt_proto_reply_done(&reply);
out:
        session_free(s);
        return r;
}

int mtt_close(mtt_session *s, mtt_outcome outcome)
{
        return mtt_close_with_cause(s, outcome, NULL);
}

uint64_t mtt_session_id(const mtt_session *s)
{
        return s ? s->id : 0;
}

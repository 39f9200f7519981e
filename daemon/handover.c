/* Taking up what the last mttd kept, and passing it across exec. */
#include "handover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/grow.h"
#include "keep.h"
#include "log.h"
#include "peer.h"

/* The fd passed under kind-id, or -1. */
static int take(mttd_fdstore *st, const char *kind, uint64_t id)
{
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_name(name, kind, id);
        int fd = mttd_fdstore_take(st, name);
        return fd < 0 ? -1 : fd;
}

static void drop(mttd_fdstore *st, const char *kind, uint64_t id)
{
        int fd = take(st, kind, id);
        if (fd >= 0)
                close(fd);
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_name(name, kind, id);
        mttd_keep_unstore(name);
}

/* The session of a state's name, or 0. */
static uint64_t state_id(const char *name)
{
        return name ? mttd_keep_id_of(name, MTTD_KEEP_STATE) : 0;
}

/* What nobody took up is closed (mttd_fdstore_done) and leaves the store: a dead peer, a
 * session that had ended. The names that stay count against the room for more. */
static void count_names(mttd_fdstore *st)
{
        size_t kept = 0;
        for (size_t i = 0; i < st->n; i++) {
                const char *name = st->v[i].name;
                if (!name)
                        continue;
                if (st->v[i].fd >= 0)
                        mttd_keep_unstore(name);
                else
                        kept += strlen(name) + 1;
        }
        mttd_keep_adopted_names(kept);
}

typedef struct counts {
        unsigned conns, sessions, ended, failed;
} counts;

static void adopt_conns(mttd_fdstore *st, mttd_server *srv, counts *n)
{
        for (size_t i = 0; i < st->n; i++) {
                mttd_fdstore_fd *e = &st->v[i];
                uint64_t id, watch;
                bool watching;
                if (e->fd < 0 || !e->name || !mttd_keep_conn_parse(e->name, &id, &watching, &watch))
                        continue;
                int fd = e->fd;
                e->fd = -1;
                if (mttd_server_adopt(srv, fd, id) == 0)
                        n->conns++;
        }
}

/* One session from its state fd (taken). */
static void adopt_session(mttd_fdstore *st, int state_fd, uint64_t id, mttd_tracker *t,
                          mttd_server *srv, counts *n)
{
        mttd_kept k;
        int r = mttd_keep_read(state_fd, &k);
        uid_t uid = 0;
        mttd_peer *peer = NULL;
        mttd_owner *owner = mttd_server_owner(srv, k.conn, &uid, &peer);
        if (r == 0) {
                int report = take(st, MTTD_KEEP_REPORT, id);
                int pidfd = take(st, MTTD_KEEP_PIDFD, id);
                k.s->pidfd_kept = pidfd >= 0 && mttd_keep_storing(); /* it is in the store */
                const char *why = k.why; /* its state may say it cannot go on */
                if (mttd_tracker_adopt(t, k.s, report, pidfd, owner, peer, k.saved_us, &why) < 0) {
                        mttd_session_free(k.s); /* closes state_fd */
                        n->failed++;
                        return;
                }
                mttd_server_adopted(srv, k.s);
                mttd_tracker_resume(t, k.s, why);
                if (why)
                        n->failed++;
                else
                        n->sessions++;
                return;
        }
        close(state_fd);
        drop(st, MTTD_KEEP_REPORT, id);
        drop(st, MTTD_KEEP_PIDFD, id);
        char name[MTTD_KEEP_NAME_MAX];
        mttd_keep_name(name, MTTD_KEEP_STATE, id);
        mttd_keep_unstore(name);
        if (r == 1) { /* its report was whole already */
                n->ended++;
                return;
        }
        mttd_log(LOG_ERR, "session %" PRIu64 ": mttd restarted and could not resume it: %s", id,
                 k.why);
        if (owner && mttd_tracker_unresumable(t, id, uid, k.why) < 0)
                mttd_log(LOG_ERR, "session %" PRIu64 ": out of memory", id);
        n->failed++;
}

static int by_id(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

void mttd_handover_adopt(mttd_fdstore *st, mttd_tracker *t, mttd_server *srv)
{
        counts n = {0};
        adopt_conns(st, srv, &n);
        /* Sessions oldest first, as the table lists them. */
        uint64_t *ids = calloc(st->n ? st->n : 1, sizeof(*ids));
        size_t n_ids = 0;
        for (size_t i = 0; ids && i < st->n; i++) {
                uint64_t id = state_id(st->v[i].name);
                if (id && st->v[i].fd >= 0)
                        ids[n_ids++] = id;
        }
        qsort(ids, n_ids, sizeof(*ids), by_id);
        for (size_t i = 0; i < n_ids; i++) {
                int fd = take(st, MTTD_KEEP_STATE, ids[i]);
                if (fd >= 0)
                        adopt_session(st, fd, ids[i], t, srv, &n);
        }
        free(ids);
        mttd_tracker_resumed(t);
        /* Watches last: what they watch is there now. */
        for (size_t i = 0; i < st->n; i++) {
                uint64_t id, watch;
                bool watching;
                if (st->v[i].name && mttd_keep_conn_parse(st->v[i].name, &id, &watching, &watch) &&
                    watching)
                        mttd_server_adopt_watch(srv, id, watch, st->v[i].name);
        }
        count_names(st);
        if (n.conns + n.sessions + n.ended + n.failed > 0)
                mttd_log(LOG_INFO,
                         "took up %u session(s) and %u connection(s) from the previous mttd "
                         "(%u had ended, %u could not be resumed)",
                         n.sessions, n.conns, n.ended, n.failed);
}

int mttd_handover_program(char *path, size_t size)
{
        ssize_t n = readlink("/proc/self/exe", path, size - 1);
        if (n < 0)
                return -errno;
        path[n] = '\0';
        /* Replaced by an upgrade: the new file is at the same path. */
        const char *gone = " (deleted)";
        size_t len = (size_t)n, glen = strlen(gone);
        if (len > glen && strcmp(path + len - glen, gone) == 0)
                path[len - glen] = '\0';
        return access(path, X_OK) == 0 ? 0 : -errno;
}

/* The fds to pass and their names, in order. */
typedef struct passing {
        int *fds;
        size_t n, cap;
        char *names; /* "a:b:c" */
        size_t len, names_cap;
} passing;

static int add(void *ctx, const char *name, int fd)
{
        passing *p = ctx;
        size_t nl = strlen(name);
        if (fd < 0)
                return 0;
        if (mtt_grow(&p->fds, &p->cap, p->n + 1, sizeof(*p->fds), 64) < 0 ||
            mtt_grow(&p->names, &p->names_cap, p->len + nl + 2, 1, 1024) < 0)
                return -ENOMEM;
        if (p->n > 0)
                p->names[p->len++] = ':';
        memcpy(p->names + p->len, name, nl + 1);
        p->len += nl;
        p->fds[p->n++] = fd;
        return 0;
}

static int add_sessions(passing *p, mttd_tracker *t)
{
        for (mttd_session *s = mttd_tracker_first(t); s; s = mttd_table_next(s)) {
                if (mttd_session_finished(s) || s->state_fd < 0)
                        continue;
                char name[MTTD_KEEP_NAME_MAX];
                int r;
                mttd_keep_name(name, MTTD_KEEP_STATE, s->id);
                if ((r = add(p, name, s->state_fd)) < 0)
                        return r;
                mttd_keep_name(name, MTTD_KEEP_REPORT, s->id);
                if ((r = add(p, name, s->fd)) < 0)
                        return r;
                if (s->source && s->source->pidfd >= 0) {
                        mttd_keep_name(name, MTTD_KEEP_PIDFD, s->id);
                        if ((r = add(p, name, s->source->pidfd)) < 0)
                                return r;
                }
        }
        return 0;
}

/* Every fd from `from` on closes at the exec: mttd's are close-on-exec already, and this
 * holds for those that code not ours opened without it (NVML, the driver's device nodes). */
static void cloexec_from(int from)
{
        if (close_range((unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return;
        DIR *d = opendir("/proc/self/fd"); /* a kernel before 5.11 */
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d)))
                if (atoi(e->d_name) >= from && atoi(e->d_name) != dirfd(d))
                        fcntl(atoi(e->d_name), F_SETFD, FD_CLOEXEC);
        closedir(d);
}

int mttd_handover_exec(const char *path, char **argv, mttd_tracker *t, mttd_server *srv)
{
        passing p = {0};
        int r = mttd_server_kept(srv, add, &p);
        if (r == 0)
                r = add_sessions(&p, t);
        if (r < 0)
                goto out;
        /* Copies above the range first, so that no fd is overwritten before it is copied. */
        int first = SD_LISTEN_FDS_START, *tmp = calloc(p.n ? p.n : 1, sizeof(int));
        if (!tmp) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < p.n; i++) {
                tmp[i] = fcntl(p.fds[i], F_DUPFD_CLOEXEC, first + (int)p.n);
                if (tmp[i] < 0) {
                        r = -errno;
                        for (size_t j = 0; j < i; j++)
                                close(tmp[j]);
                        free(tmp);
                        goto out;
                }
        }
        char n_fds[32], pid[32];
        snprintf(n_fds, sizeof(n_fds), "%zu", p.n);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LISTEN_FDS", n_fds, 1);
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDNAMES", p.names ? p.names : "", 1);
        mttd_log(LOG_INFO, "re-executing %s with %zu fds", path, p.n);
        /* From here on nothing of this mttd is of use: its fds (the log's too) may be
         * overwritten. */
        for (size_t i = 0; i < p.n; i++)
                if (dup2(tmp[i], first + (int)i) < 0)
                        _exit(1);
        cloexec_from(first + (int)p.n);
        execv(path, argv);
        _exit(1); /* its fds are gone: this mttd cannot go on */
out:
        free(p.fds);
        free(p.names);
        return r;
}

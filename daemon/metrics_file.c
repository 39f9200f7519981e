/* The metrics file, written off the loop and renamed into place. */
#include "metrics_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

/* node_exporter runs as its own user: the file is for every reader of the directory (mttd's
 * unit sets a umask of 0077). */
#define FILE_MODE 0644

typedef struct write_job {
        mttd_pool_job base;
        char *text;
        size_t len;
        int err;
        const char *what;
        const char *path, *tmp; /* the file's, which outlives the job */
} write_job;

struct mttd_metrics_file {
        struct ev_loop *loop;
        char *path, *tmp;
        mttd_metrics_render_fn render;
        void *ctx;
        mttd_pool *pool;
        ev_timer every; /* the interval's writes */
        ev_timer soon;  /* a change's write */
        write_job *out; /* the write that is out, if any */
        bool again;     /* a change came while it was: write once more after it */
        int last_err;   /* the last write's failure, logged once */
};

int mttd_metrics_file_write(const char *path, const char *tmp, const char *text, size_t len,
                            const char **what)
{
        /* A temporary file left by an mttd that died in a write goes first; O_EXCL and
         * O_NOFOLLOW then make sure the file written is the one made here. */
        if (unlink(tmp) < 0 && errno != ENOENT) {
                *what = "cannot remove the old temporary file";
                return -errno;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, FILE_MODE);
        if (fd < 0) {
                *what = "cannot create the temporary file";
                return -errno;
        }
        int r = 0;
        if (fchmod(fd, FILE_MODE) < 0) {
                *what = "cannot make the temporary file readable";
                r = -errno;
        }
        for (size_t done = 0; r == 0 && done < len;) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        *what = "cannot write the temporary file";
                        r = n < 0 ? -errno : -EIO;
                } else {
                        done += (size_t)n;
                }
        }
        /* A network file system tells a failed write at close. */
        if (close(fd) < 0 && r == 0 && errno != EINTR) {
                *what = "cannot write the temporary file";
                r = -errno;
        }
        if (r == 0 && rename(tmp, path) < 0) {
                *what = "cannot rename the temporary file over it";
                r = -errno;
        }
        if (r < 0)
                unlink(tmp);
        return r;
}

static void run(mttd_pool_job *job)
{
        write_job *w = (write_job *)job;
        w->err = mttd_metrics_file_write(w->path, w->tmp, w->text, w->len, &w->what);
}

static void job_free(write_job *w)
{
        free(w->text);
        free(w);
}

/* A failure is logged once, until the file is written again. */
static void told(mttd_metrics_file *m, int err, const char *what)
{
        if (err < 0 && err != m->last_err)
                mttd_log(LOG_ERR, "metrics file %s: %s: %s", m->path, what, strerror(-err));
        else if (err == 0 && m->last_err < 0)
                mttd_log(LOG_INFO, "metrics file %s is written again", m->path);
        m->last_err = err;
}

static void write_now(mttd_metrics_file *m)
{
        if (m->out) {
                m->again = true;
                return;
        }
        ev_timer_stop(m->loop, &m->soon);
        m->again = false;
        mttd_prom p;
        mttd_prom_init(&p);
        m->render(m->ctx, &p);
        write_job *w = calloc(1, sizeof(*w));
        if (p.failed || !w) {
                mttd_prom_free(&p);
                free(w);
                told(m, -ENOMEM, "cannot make its text");
                return;
        }
        *w = (write_job){
            .base.run = run, .text = p.text, .len = p.len, .path = m->path, .tmp = m->tmp};
        int r = mttd_pool_submit(m->pool, &w->base);
        if (r < 0) {
                job_free(w);
                told(m, r, "cannot start a thread to write it");
                return;
        }
        m->out = w;
}

static void on_done(void *ctx, mttd_pool_job *job)
{
        mttd_metrics_file *m = ctx;
        write_job *w = (write_job *)job;
        told(m, w->err, w->what);
        m->out = NULL;
        job_free(w);
        if (m->again)
                ev_timer_start(m->loop, &m->soon);
}

static void on_cancel(mttd_pool_job *job, bool ran)
{
        job_free((write_job *)job);
}

static void on_every(struct ev_loop *loop, ev_timer *t, int revents)
{
        write_now(t->data);
}

static void on_soon(struct ev_loop *loop, ev_timer *t, int revents)
{
        write_now(t->data);
}

/* dir/name -> dir/.name.tmp */
static char *tmp_name(const char *path)
{
        const char *slash = strrchr(path, '/');
        size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
        char buf[PATH_MAX];
        if ((size_t)snprintf(buf, sizeof(buf), "%.*s.%s.tmp", (int)dir, path, path + dir) >=
            sizeof(buf))
                return NULL;
        return strdup(buf);
}

int mttd_metrics_file_new(struct ev_loop *loop, const char *path, uint64_t interval_us,
                          mttd_metrics_render_fn render, void *ctx, mttd_metrics_file **out)
{
        if (strlen(path) >= PATH_MAX - 8)
                return -ENAMETOOLONG;
        mttd_metrics_file *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *m = (mttd_metrics_file){.loop = loop, .render = render, .ctx = ctx};
        m->path = strdup(path);
        m->tmp = tmp_name(path);
        int r = !m->path || !m->tmp ? -ENOMEM : mttd_pool_new(loop, 1, on_done, m, &m->pool);
        if (r < 0) {
                free(m->path);
                free(m->tmp);
                free(m);
                return r;
        }
        double every = (double)interval_us / 1e6;
        ev_timer_init(&m->every, on_every, every, every);
        m->every.data = m;
        ev_timer_start(loop, &m->every);
        ev_timer_init(&m->soon, on_soon, (double)MTTD_METRICS_SOON_US / 1e6, 0.);
        m->soon.data = m;
        write_now(m);
        *out = m;
        return 0;
}

void mttd_metrics_file_changed(mttd_metrics_file *m)
{
        if (m->out)
                m->again = true;
        else if (!ev_is_active(&m->soon))
                ev_timer_start(m->loop, &m->soon);
}

void mttd_metrics_file_free(mttd_metrics_file *m, bool last)
{
        if (!m)
                return;
        ev_timer_stop(m->loop, &m->every);
        ev_timer_stop(m->loop, &m->soon);
        /* A write still out is waited for a moment (a second at most); one that is stuck
         * keeps its thread, its job and the names it points to, and no last write is made
         * beside it. */
        if (!mttd_pool_free(m->pool, on_cancel))
                return;
        /* Any write that was out came back meanwhile (its job is freed). */
        if (last) {
                mttd_prom p;
                mttd_prom_init(&p);
                m->render(m->ctx, &p);
                const char *what = "cannot make its text";
                int r = p.failed ? -ENOMEM
                                 : mttd_metrics_file_write(m->path, m->tmp, p.text, p.len, &what);
                told(m, r, what);
                mttd_prom_free(&p);
        }
        free(m->path);
        free(m->tmp);
        free(m);
}

/* Writer threads for report files. */
#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mttd_writer {
        mttd_pool *pool;
        mttd_write_done done_cb;
        mttd_write_stuck stuck_cb;
        void *ctx;
};

/* fdatasync, as an errno (0 for success). Pipes, terminals and /dev/null cannot be synced;
 * that is no error of theirs. */
static int datasync(int fd)
{
        if (fdatasync(fd) == 0 || errno == EINVAL || errno == EROFS || errno == ENOTSUP)
                return 0;
        return -errno;
}

static void write_item(mttd_write_item *it)
{
        /* The client opened an existing report without O_TRUNC: what it had goes now that
         * the session is mttd's, not before (a refused Open leaves it whole). */
        if (it->truncate && it->written == 0 && it->len > 0 &&
            (ftruncate(it->fd, 0) < 0 || lseek(it->fd, 0, SEEK_SET) < 0))
                it->error = -errno;
        while (it->written < it->len && it->error == 0) {
                ssize_t n = write(it->fd, it->data + it->written, it->len - it->written);
                if (n < 0) {
                        if (errno != EINTR)
                                it->error = -errno;
                        continue;
                }
                if (n == 0)
                        it->error = -EIO;
                it->written += (size_t)n;
        }
        if (it->error == 0 && it->after_fd >= 0 && it->after_len > 0 &&
            pwrite(it->after_fd, it->after, it->after_len, 0) != (ssize_t)it->after_len)
                it->after_fd = -1; /* the state keeps what it said before: a longer gap */
}

static void close_item(mttd_write_item *it)
{
        if (it->close_fd && it->fd >= 0) {
                close(it->fd);
                it->fd = -1;
        }
}

/* The syncs of a job's items [first, n) whose writes went well: where many of its files are
 * on one file system, one syncfs replaces their fdatasyncs (each of which would flush the
 * device's cache on its own: a thousand of them a second with ten thousand sessions). */
static void sync_items(mttd_write_job *job)
{
        bool done[MTTD_WRITER_BATCH_MAX] = {0};
        for (size_t i = job->first; i < job->n; i++) {
                mttd_write_item *it = &job->items[i];
                if (!it->sync || it->error || done[i])
                        continue;
                size_t same = 0;
                for (size_t k = i; k < job->n; k++)
                        same += job->items[k].sync && !job->items[k].error &&
                                job->items[k].dev == it->dev;
                if (same < MTTD_WRITER_SYNCFS_MIN) {
                        it->error = datasync(it->fd);
                        continue;
                }
                /* syncfs reports any writeback error of the file system, maybe another
                 * program's: then each file's own fdatasync says whose it is. */
                bool failed = syncfs(it->fd) < 0;
                for (size_t k = i; k < job->n; k++) {
                        mttd_write_item *o = &job->items[k];
                        if (!o->sync || o->error || o->dev != it->dev)
                                continue;
                        done[k] = true;
                        if (failed)
                                o->error = datasync(o->fd);
                }
        }
}

/* Writes everything first, then syncs, then closes. While it writes, the loop may take the
 * items after the current one away (split_stuck): the thread reads job->n under the lock. */
static void run_job(mttd_pool_job *base)
{
        mttd_write_job *job = (mttd_write_job *)base;
        mttd_pool *pool = job->writer->pool;
        for (size_t i = job->first;; i++) {
                mttd_pool_lock(pool);
                bool more = i < job->n;
                job->current = i;
                job->item_started_us = mttd_pool_now_us();
                job->syncing = !more;
                mttd_pool_unlock(pool);
                if (!more)
                        break;
                write_item(&job->items[i]);
        }
        sync_items(job);
        for (size_t i = job->first; i < job->n; i++)
                close_item(&job->items[i]);
}

static void on_done(void *ctx, mttd_pool_job *base)
{
        mttd_writer *w = ctx;
        mttd_write_job *job = (mttd_write_job *)base;
        for (size_t i = job->first; i < job->n; i++)
                w->done_cb(w->ctx, &job->items[i]);
        mttd_write_job_free(job);
}

static void on_cancel(mttd_pool_job *base, bool ran)
{
        mttd_write_job *job = (mttd_write_job *)base;
        for (size_t i = job->first; !ran && i < job->n; i++)
                close_item(&job->items[i]);
        mttd_write_job_free(job);
}

int mttd_writer_new(struct ev_loop *loop, unsigned max_threads, mttd_write_done done,
                    mttd_write_stuck stuck, void *ctx, mttd_writer **out)
{
        mttd_writer *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->done_cb = done;
        w->stuck_cb = stuck;
        w->ctx = ctx;
        int r = mttd_pool_new(loop, max_threads, on_done, w, &w->pool);
        if (r < 0) {
                free(w);
                return r;
        }
        *out = w;
        return 0;
}

void mttd_writer_free(mttd_writer *w)
{
        if (!w)
                return;
        /* A thread stuck in a write keeps its job, which points at w: w stays allocated
         * then, as the pool does. */
        if (mttd_pool_free(w->pool, on_cancel))
                free(w);
}

int mttd_writer_submit(mttd_writer *w, mttd_write_job *job)
{
        job->base.run = run_job;
        job->writer = w;
        return mttd_pool_submit(w->pool, &job->base);
}

/* What a split found stuck, told to the tracker once the lock is released. */
struct split {
        mttd_writer *w;
        void *stuck[16];
        size_t n_stuck;
};

/* A shared job whose thread has been writing one item past the deadline: every other item
 * still the job's (written already or not) moves to a new job on another thread, and the
 * stuck item stays alone with its thread. */
static void split_stuck(void *ctx, mttd_pool_job *base)
{
        struct split *sp = ctx;
        mttd_write_job *job = (mttd_write_job *)base;
        size_t others = job->n - job->first - 1;
        /* The clock is read under the lock, after the thread's: no difference wraps. A job
         * whose thread has not begun an item yet has none started. */
        uint64_t now = mttd_pool_now_us();
        if (job->syncing || job->told || job->current >= job->n || job->item_started_us == 0 ||
            now < job->item_started_us ||
            now - job->item_started_us < MTTD_WRITER_ITEM_DEADLINE_US ||
            sp->n_stuck == sizeof(sp->stuck) / sizeof(sp->stuck[0]))
                return;
        /* Alone in its job (from the start, or after a split), its owner is told once. */
        if (others == 0) {
                job->told = true;
                sp->stuck[sp->n_stuck++] = job->items[job->current].owner;
                return;
        }
        mttd_write_job *rest = mttd_write_job_new(others);
        if (!rest)
                return;
        for (size_t i = job->first; i < job->n; i++)
                if (i != job->current)
                        rest->items[rest->n++] = job->items[i];
        job->first = job->current;
        job->n = job->current + 1;
        job->told = true;
        rest->base.run = run_job;
        rest->writer = sp->w;
        mttd_pool_submit_locked(sp->w->pool, &rest->base);
        sp->stuck[sp->n_stuck++] = job->items[job->current].owner;
}

void mttd_writer_poke(mttd_writer *w)
{
        struct split sp = {.w = w};
        mttd_pool_each_running(w->pool, split_stuck, &sp);
        mttd_pool_poke(w->pool);
        for (size_t i = 0; i < sp.n_stuck && w->stuck_cb; i++)
                w->stuck_cb(w->ctx, sp.stuck[i]);
}

size_t mttd_writer_pending(const mttd_writer *w)
{
        return mttd_pool_pending(w->pool);
}

mttd_write_job *mttd_write_job_new(size_t cap)
{
        mttd_write_job *job = calloc(1, sizeof(*job) + cap * sizeof(mttd_write_item));
        if (job)
                job->cap = cap;
        return job;
}

bool mttd_write_job_add(mttd_write_job *job, const mttd_write_item *item)
{
        if (job->n == job->cap)
                return false;
        job->items[job->n] = *item;
        job->items[job->n].error = 0;
        job->items[job->n].written = 0;
        job->n++;
        return true;
}

void mttd_write_job_free(mttd_write_job *job)
{
        if (!job)
                return;
        for (size_t i = job->first; i < job->n; i++)
                free(job->items[i].data);
        free(job);
}

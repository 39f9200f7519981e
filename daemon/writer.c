/* Writer threads for report files. */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

struct mttd_writer {
        struct ev_loop *loop;
        ev_async async;
        mttd_write_done done_cb;
        void *ctx;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        mttd_write_job *queue_head, *queue_tail; /* waiting for a thread */
        mttd_write_job *done_head, *done_tail;   /* waiting for the loop */
        mttd_write_job *running;                 /* in a thread's hands */
        size_t queued;
        unsigned threads, idle, max_threads;
        bool stopping;
        bool loop_gone; /* threads left behind must not touch the loop */
        size_t pending; /* loop thread only */
};

static void push(mttd_write_job **head, mttd_write_job **tail, mttd_write_job *job)
{
        job->next = NULL;
        if (*tail)
                (*tail)->next = job;
        else
                *head = job;
        *tail = job;
}

static mttd_write_job *pop(mttd_write_job **head, mttd_write_job **tail)
{
        mttd_write_job *job = *head;
        if (job) {
                *head = job->next;
                if (!*head)
                        *tail = NULL;
        }
        return job;
}

static uint64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void unlink_running(mttd_writer *w, mttd_write_job *job)
{
        for (mttd_write_job **p = &w->running; *p; p = &(*p)->next) {
                if (*p == job) {
                        *p = job->next;
                        return;
                }
        }
}

/* fdatasync, as an errno (0 for success). Pipes, terminals and /dev/null cannot be synced;
 * that is no error of theirs. */
static int datasync(int fd)
{
        if (fdatasync(fd) == 0 || errno == EINVAL || errno == EROFS || errno == ENOTSUP)
                return 0;
        return errno;
}

static void run_item(mttd_write_item *it)
{
        while (it->written < it->len) {
                ssize_t n = write(it->fd, it->data + it->written, it->len - it->written);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        it->error = errno;
                        break;
                }
                if (n == 0) {
                        it->error = EIO;
                        break;
                }
                it->written += (size_t)n;
        }
        if (it->error == 0 && it->sync)
                it->error = datasync(it->fd);
        if (it->close_fd) {
                close(it->fd);
                it->fd = -1;
        }
}

/* A shared job writes everything first, then syncs: where many of its files are on one file
 * system, one syncfs replaces their fdatasyncs (each of which would flush the device's cache
 * on its own: a thousand of them a second with ten thousand sessions). */
static void run_job(mttd_write_job *job)
{
        if (job->n == 1) {
                run_item(&job->items[0]);
                return;
        }
        bool sync[MTTD_WRITER_BATCH_MAX] = {0}, closing[MTTD_WRITER_BATCH_MAX] = {0};
        for (size_t i = 0; i < job->n; i++) {
                mttd_write_item *it = &job->items[i];
                sync[i] = it->sync, closing[i] = it->close_fd;
                it->sync = it->close_fd = false;
                run_item(it);
        }
        for (size_t i = 0; i < job->n; i++) {
                mttd_write_item *it = &job->items[i];
                if (!sync[i] || it->error)
                        continue;
                size_t same = 0;
                for (size_t k = i; k < job->n; k++)
                        same += sync[k] && !job->items[k].error && job->items[k].dev == it->dev;
                if (same < MTTD_WRITER_SYNCFS_MIN) {
                        it->sync = true;
                        it->error = datasync(it->fd);
                        continue;
                }
                /* syncfs reports any writeback error of the file system, maybe another
                 * program's: then each file's own fdatasync says whose it is. */
                bool failed = syncfs(it->fd) < 0;
                for (size_t k = i; k < job->n; k++) {
                        mttd_write_item *o = &job->items[k];
                        if (!sync[k] || o->error || o->dev != it->dev)
                                continue;
                        o->sync = true;
                        sync[k] = false;
                        if (failed)
                                o->error = datasync(o->fd);
                }
        }
        for (size_t i = 0; i < job->n; i++) {
                job->items[i].sync = job->items[i].sync || sync[i];
                if (closing[i]) {
                        close(job->items[i].fd);
                        job->items[i].close_fd = true;
                        job->items[i].fd = -1;
                }
        }
}

static void *thread_main(void *arg)
{
        mttd_writer *w = arg;
        pthread_mutex_lock(&w->lock);
        for (;;) {
                mttd_write_job *job = pop(&w->queue_head, &w->queue_tail);
                if (job) {
                        w->queued--;
                        job->started_us = now_us();
                        job->next = w->running;
                        w->running = job;
                }
                if (!job) {
                        if (w->stopping)
                                break;
                        w->idle++;
                        pthread_cond_wait(&w->cond, &w->lock);
                        w->idle--;
                        continue;
                }
                pthread_mutex_unlock(&w->lock);
                run_job(job);
                pthread_mutex_lock(&w->lock);
                unlink_running(w, job);
                push(&w->done_head, &w->done_tail, job);
                if (!w->loop_gone)
                        ev_async_send(w->loop, &w->async);
        }
        w->threads--;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static void on_async(struct ev_loop *loop, ev_async *a, int revents)
{
        mttd_writer *w = a->data;
        pthread_mutex_lock(&w->lock);
        mttd_write_job *list = w->done_head;
        w->done_head = w->done_tail = NULL;
        pthread_mutex_unlock(&w->lock);
        while (list) {
                mttd_write_job *job = list;
                list = job->next;
                w->pending--;
                for (size_t i = 0; i < job->n; i++)
                        w->done_cb(w->ctx, &job->items[i]);
                mttd_write_job_free(job);
        }
}

int mttd_writer_new(struct ev_loop *loop, unsigned max_threads, mttd_write_done done, void *ctx,
                    mttd_writer **out)
{
        mttd_writer *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->loop = loop;
        w->done_cb = done;
        w->ctx = ctx;
        w->max_threads = max_threads ? max_threads : 1;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        ev_async_init(&w->async, on_async);
        w->async.data = w;
        ev_async_start(loop, &w->async);
        ev_unref(loop); /* the writer alone does not keep the loop running */
        *out = w;
        return 0;
}

/* A thread with every signal blocked, so signals stay the loop's business. */
static int spawn(mttd_writer *w)
{
        sigset_t all, old;
        pthread_t t;
        pthread_attr_t attr;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&t, &attr, thread_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        w->threads++;
        return 0;
}

/* Threads whose write has waited past STALLED_US do not count against the cap: a pipe
 * nobody reads must not starve the other sessions' writes. */
static unsigned thread_cap(mttd_writer *w)
{
        unsigned stalled = 0;
        uint64_t now = now_us();
        for (mttd_write_job *j = w->running; j; j = j->next)
                if (now - j->started_us >= MTTD_WRITER_STALLED_US)
                        stalled++;
        unsigned cap = w->max_threads + stalled;
        return cap < MTTD_WRITER_HARD_MAX ? cap : MTTD_WRITER_HARD_MAX;
}

int mttd_writer_submit(mttd_writer *w, mttd_write_job *job)
{
        int r = 0;
        pthread_mutex_lock(&w->lock);
        push(&w->queue_head, &w->queue_tail, job);
        w->queued++;
        if (w->queued > w->idle && w->threads < thread_cap(w))
                r = spawn(w);
        /* With no thread at all the job could never run: refuse it. */
        if (r < 0 && w->threads == 0) {
                w->queue_head = w->queue_tail = NULL;
                w->queued = 0;
                pthread_mutex_unlock(&w->lock);
                return r;
        }
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        w->pending++;
        return 0;
}

void mttd_writer_poke(mttd_writer *w)
{
        pthread_mutex_lock(&w->lock);
        if (w->queued > w->idle && w->threads < thread_cap(w))
                spawn(w);
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

size_t mttd_writer_pending(const mttd_writer *w)
{
        return w->pending;
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
        for (size_t i = 0; i < job->n; i++)
                free(job->items[i].data);
        free(job);
}

/* The type of the file system mounted from device dev, from /proc/self/mountinfo (a local
 * read: statfs would ask an NFS server, and block with it). */
static bool fs_type_of(dev_t dev, char *type, size_t size)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned maj, min;
                char *sep = strstr(line, " - ");
                if (!sep || sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2 ||
                    makedev(maj, min) != dev)
                        continue;
                found = sscanf(sep + 3, "%63s", type) == 1 && size > 63;
        }
        fclose(f);
        return found;
}

/* Answers for file systems seen before: mountinfo is read once per file system, not once per
 * Open (it is long on hosts with many mounts). */
static struct {
        dev_t dev;
        bool may_stall, used;
} fs_cache[32];
static size_t fs_cache_next;

int mttd_fd_stat(int fd, mode_t *mode, dev_t *dev)
{
        struct statx stx;
        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0)
                return -errno;
        *mode = stx.stx_mode;
        *dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
        return 0;
}

bool mttd_fd_may_stall(int fd, dev_t *dev, bool *regular)
{
        /* File systems whose writes wait on a network or a user-space server. */
        static const char *const remote[] = {"nfs",   "cifs",      "smb",   "fuse",   "ceph",
                                             "afs",   "9p",        "coda",  "lustre", "gfs2",
                                             "ocfs2", "glusterfs", "davfs", "sshfs"};
        mode_t mode;
        char type[64];
        *regular = false;
        if (mttd_fd_stat(fd, &mode, dev) < 0)
                return true;
        *regular = S_ISREG(mode);
        if (!*regular)
                return true;
        for (size_t i = 0; i < sizeof(fs_cache) / sizeof(fs_cache[0]); i++)
                if (fs_cache[i].used && fs_cache[i].dev == *dev)
                        return fs_cache[i].may_stall;
        bool may_stall = !fs_type_of(*dev, type, sizeof(type));
        for (size_t i = 0; !may_stall && i < sizeof(remote) / sizeof(remote[0]); i++)
                if (strncmp(type, remote[i], strlen(remote[i])) == 0)
                        may_stall = true;
        size_t k = fs_cache_next++ % (sizeof(fs_cache) / sizeof(fs_cache[0]));
        fs_cache[k].dev = *dev;
        fs_cache[k].may_stall = may_stall;
        fs_cache[k].used = true;
        return may_stall;
}

void mttd_writer_free(mttd_writer *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_broadcast(&w->cond);
        mttd_write_job *job;
        while ((job = pop(&w->queue_head, &w->queue_tail))) {
                for (size_t i = 0; i < job->n; i++)
                        if (job->items[i].close_fd)
                                close(job->items[i].fd);
                mttd_write_job_free(job);
        }
        /* Idle threads leave at once; one stuck in a write stays stuck, and is abandoned. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        while (w->threads > 0 &&
               pthread_cond_timedwait(&w->cond, &w->lock, &deadline) != ETIMEDOUT) {
        }
        bool abandoned = w->threads > 0;
        w->loop_gone = true;
        pthread_mutex_unlock(&w->lock);
        ev_ref(w->loop);
        ev_async_stop(w->loop, &w->async);
        if (abandoned)
                return; /* a stuck thread still points at w: leave it allocated */
        while ((job = pop(&w->done_head, &w->done_tail)))
                mttd_write_job_free(job);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
}

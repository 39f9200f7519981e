/* Threads for blocking work. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

static _Atomic unsigned threads_left;

unsigned mttd_pool_threads_left(void)
{
        return threads_left;
}

TAILQ_HEAD(mttd_pool_jobs, mttd_pool_job);

struct mttd_pool {
        struct ev_loop *loop;
        ev_async async;
        mttd_pool_done done_cb;
        void *ctx;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct mttd_pool_jobs queue;   /* waiting for a thread */
        struct mttd_pool_jobs done;    /* waiting for the loop */
        struct mttd_pool_jobs running; /* in a thread's hands */
        size_t queued;
        unsigned threads, idle, max_threads;
        size_t stack_bytes;
        bool stopping;
        bool loop_gone; /* threads left behind must not touch the loop */
        size_t pending; /* loop thread only */
};

static mttd_pool_job *pop(struct mttd_pool_jobs *head)
{
        mttd_pool_job *job = TAILQ_FIRST(head);
        if (job)
                TAILQ_REMOVE(head, job, link);
        return job;
}

uint64_t mttd_pool_now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Under the lock: the job is done, the loop hears of it. */
static void finish_locked(mttd_pool *p, mttd_pool_job *job)
{
        bool quiet = job->quiet;
        TAILQ_INSERT_TAIL(&p->done, job, link);
        if (!p->loop_gone && !quiet)
                ev_async_send(p->loop, &p->async);
}

static void *thread_main(void *arg)
{
        mttd_pool *p = arg;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                mttd_pool_job *job = pop(&p->queue);
                if (!job) {
                        if (p->stopping)
                                break;
                        p->idle++;
                        pthread_cond_wait(&p->cond, &p->lock);
                        p->idle--;
                        continue;
                }
                p->queued--;
                job->started_us = mttd_pool_now_us();
                TAILQ_INSERT_TAIL(&p->running, job, link);
                pthread_mutex_unlock(&p->lock);
                job->run(job);
                pthread_mutex_lock(&p->lock);
                TAILQ_REMOVE(&p->running, job, link);
                finish_locked(p, job);
        }
        p->threads--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

void mttd_pool_hurry(mttd_pool *p, mttd_pool_job *job)
{
        pthread_mutex_lock(&p->lock);
        bool was_quiet = job->quiet;
        job->quiet = false;
        pthread_mutex_unlock(&p->lock);
        if (was_quiet) /* it may be back already, waiting for a collect */
                ev_async_send(p->loop, &p->async);
}

void mttd_pool_collect(mttd_pool *p)
{
        pthread_mutex_lock(&p->lock);
        struct mttd_pool_jobs list = TAILQ_HEAD_INITIALIZER(list);
        TAILQ_CONCAT(&list, &p->done, link);
        pthread_mutex_unlock(&p->lock);
        mttd_pool_job *job;
        while ((job = pop(&list))) {
                p->pending--;
                p->done_cb(p->ctx, job);
        }
}

static void on_async(struct ev_loop *loop, ev_async *a, int revents)
{
        mttd_pool_collect(a->data);
}

int mttd_pool_new(struct ev_loop *loop, unsigned max_threads, mttd_pool_done done, void *ctx,
                  mttd_pool **out)
{
        mttd_pool *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->loop = loop;
        p->done_cb = done;
        p->ctx = ctx;
        p->max_threads = max_threads ? max_threads : 1;
        p->stack_bytes = MTTD_POOL_STACK;
        TAILQ_INIT(&p->queue);
        TAILQ_INIT(&p->done);
        TAILQ_INIT(&p->running);
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        ev_async_init(&p->async, on_async);
        p->async.data = p;
        ev_async_start(loop, &p->async);
        ev_unref(loop); /* the pool alone does not keep the loop running */
        *out = p;
        return 0;
}

void mttd_pool_set_stack(mttd_pool *p, size_t bytes)
{
        p->stack_bytes = bytes;
}

/* A thread with every signal blocked, so signals stay the loop's business. */
static int spawn(mttd_pool *p)
{
        sigset_t all, old;
        pthread_t t;
        pthread_attr_t attr;
        sigfillset(&all);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, p->stack_bytes);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&t, &attr, thread_main, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        p->threads++;
        return 0;
}

/* Threads whose job has run past the stall bound do not count against the cap: one stuck
 * job must not starve the others. */
static unsigned thread_cap(mttd_pool *p)
{
        unsigned stalled = 0;
        uint64_t now = mttd_pool_now_us();
        mttd_pool_job *j;
        TAILQ_FOREACH(j, &p->running, link)
        if (now - j->started_us >= MTTD_POOL_STALLED_US)
                stalled++;
        unsigned cap = p->max_threads + stalled;
        return cap < MTTD_POOL_HARD_MAX ? cap : MTTD_POOL_HARD_MAX;
}

static int queue_locked(mttd_pool *p, mttd_pool_job *job)
{
        int r = 0;
        TAILQ_INSERT_TAIL(&p->queue, job, link);
        p->queued++;
        if (p->queued > p->idle && p->threads < thread_cap(p))
                r = spawn(p);
        pthread_cond_signal(&p->cond);
        return r;
}

void mttd_pool_submit_locked(mttd_pool *p, mttd_pool_job *job)
{
        queue_locked(p, job);
        p->pending++;
}

int mttd_pool_submit(mttd_pool *p, mttd_pool_job *job)
{
        pthread_mutex_lock(&p->lock);
        int r = queue_locked(p, job);
        /* With no thread at all the job could never run: refuse it. */
        if (r < 0 && p->threads == 0) {
                TAILQ_INIT(&p->queue);
                p->queued = 0;
                pthread_mutex_unlock(&p->lock);
                return r;
        }
        pthread_mutex_unlock(&p->lock);
        p->pending++;
        return 0;
}

void mttd_pool_poke(mttd_pool *p)
{
        pthread_mutex_lock(&p->lock);
        if (p->queued > p->idle && p->threads < thread_cap(p))
                spawn(p);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

size_t mttd_pool_pending(const mttd_pool *p)
{
        return p->pending;
}

void mttd_pool_each_running(mttd_pool *p, void (*fn)(void *ctx, mttd_pool_job *job), void *ctx)
{
        pthread_mutex_lock(&p->lock);
        mttd_pool_job *j;
        TAILQ_FOREACH(j, &p->running, link)
        fn(ctx, j);
        pthread_mutex_unlock(&p->lock);
}

void mttd_pool_lock(mttd_pool *p)
{
        pthread_mutex_lock(&p->lock);
}

void mttd_pool_unlock(mttd_pool *p)
{
        pthread_mutex_unlock(&p->lock);
}

bool mttd_pool_free(mttd_pool *p, mttd_pool_cancel cancel)
{
        if (!p)
                return true;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->cond);
        mttd_pool_job *job;
        while ((job = pop(&p->queue)))
                cancel(job, false);
        /* Idle threads leave at once; one stuck in a job stays stuck, and is abandoned. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        while (p->threads > 0 &&
               pthread_cond_timedwait(&p->cond, &p->lock, &deadline) != ETIMEDOUT) {
        }
        bool abandoned = p->threads > 0;
        threads_left += p->threads;
        p->loop_gone = true;
        pthread_mutex_unlock(&p->lock);
        ev_ref(p->loop);
        ev_async_stop(p->loop, &p->async);
        if (abandoned)
                return false; /* a stuck thread still points at p: leave it allocated */
        while ((job = pop(&p->done)))
                cancel(job, true);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        return true;
}

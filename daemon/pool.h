/* A pool of threads for work that may block for long (a write to a pipe nobody reads, a read
 * of a process's /proc file while the kernel holds its memory map locked): jobs are queued,
 * taken by threads made on demand, and handed back to the loop through an ev_async. A thread
 * whose job has run past the stall bound does not count against the cap, so other jobs still
 * get threads; nothing can unblock such a thread, so it is left behind when the pool ends. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

/* A job running longer than this holds its thread without counting against the cap. */
#define MTTD_POOL_STALLED_US 1000000
/* Threads in all, stalled ones included. */
#define MTTD_POOL_HARD_MAX 256
/* A thread's stack: ours are small (a write, a read of a /proc file). */
#define MTTD_POOL_STACK (64 * 1024)

typedef struct mttd_pool_job {
        TAILQ_ENTRY(mttd_pool_job) link; /* the pool's: queued, running or done */
        uint64_t started_us;             /* when a thread took it (the pool's business) */
        bool quiet; /* finished, it waits for mttd_pool_collect rather than wake the loop */
        /* Runs on a pool thread. */
        void (*run)(struct mttd_pool_job *job);
} mttd_pool_job;

/* Called on the loop thread for each finished job, which is the caller's again. */
typedef void (*mttd_pool_done)(void *ctx, mttd_pool_job *job);
/* Called when the pool ends for each job it still holds: not yet taken (ran false), or
 * finished and not yet handed back (ran true). */
typedef void (*mttd_pool_cancel)(mttd_pool_job *job, bool ran);

typedef struct mttd_pool mttd_pool;

/* Starts with no thread; threads are made on demand up to max_threads (more while some
 * are stalled). The pool alone does not keep the loop running. */
int mttd_pool_new(struct ev_loop *loop, unsigned max_threads, mttd_pool_done done, void *ctx,
                  mttd_pool **out);
/* Jobs not yet taken are cancelled; idle threads are joined; threads blocked in a job are
 * left behind (and their jobs with them, and the pool). Returns false then: what such a job
 * points to must stay allocated too. Accepts NULL. */
bool mttd_pool_free(mttd_pool *p, mttd_pool_cancel cancel);
/* The stack of the threads made from now on (MTTD_POOL_STACK unless set): more for a job
 * that runs code not ours (NVML, its dlopen and the driver's constructors). */
void mttd_pool_set_stack(mttd_pool *p, size_t bytes);
/* Queues a job; -errno when no thread at all would take it (the job stays the caller's). */
int mttd_pool_submit(mttd_pool *p, mttd_pool_job *job);
/* Grows the pool if queued jobs wait behind threads that have since stalled: the check
 * submit makes, made again (the tick calls it). */
void mttd_pool_poke(mttd_pool *p);
/* Jobs submitted and not yet handed back. */
size_t mttd_pool_pending(const mttd_pool *p);
/* A quiet job is told at once after all, even if it is finished already. */
void mttd_pool_hurry(mttd_pool *p, mttd_pool_job *job);
/* Hands back the finished jobs now (quiet ones wait for this: their owner asks at its own
 * pace, and a thread's result costs the loop no wake-up of its own). */
void mttd_pool_collect(mttd_pool *p);
/* Calls fn with the pool locked for every job a thread is running: a job's thread may only
 * change what fn reads under the same lock (mttd_pool_lock). */
void mttd_pool_each_running(mttd_pool *p, void (*fn)(void *ctx, mttd_pool_job *job), void *ctx);
/* The pool's lock, for data a running job shares with the loop. */
void mttd_pool_lock(mttd_pool *p);
void mttd_pool_unlock(mttd_pool *p);
/* Queues a job from fn of mttd_pool_each_running (with the lock held), with a thread for it:
 * the rest of a job whose thread is stuck. */
void mttd_pool_submit_locked(mttd_pool *p, mttd_pool_job *job);
uint64_t mttd_pool_now_us(void);
/* Threads that pools left behind when they ended (stuck in a job). */
unsigned mttd_pool_threads_left(void);

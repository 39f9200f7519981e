/* Report writes and syncs off the event loop: a pool of writer threads (pool.h) takes jobs
 * (write these bytes to these fds, maybe fdatasync, maybe close) and hands every item back
 * to the loop. A job may carry many items, written one after the other, so thousands of
 * sessions cost a few thread hand-offs per flush, not thousands; only fds that cannot stall
 * are put together (fdkind.h). Should one of them stall all the same, the rest of its job is
 * taken from the stuck thread and given to another (mttd_writer_poke): one item never holds
 * the others. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pool.h"

/* A write waiting longer than this holds its thread without counting against the cap. */
#define MTTD_WRITER_STALLED_US MTTD_POOL_STALLED_US
/* An item of a shared job writing for longer than this is left alone with its thread. */
#define MTTD_WRITER_ITEM_DEADLINE_US MTTD_POOL_STALLED_US
/* Bytes an item may write to its after_fd. */
#define MTTD_WRITE_AFTER_MAX 160
/* Items one job carries at most. */
#define MTTD_WRITER_BATCH_MAX 256
/* Syncs of a job on one file system from which one syncfs replaces them. */
#define MTTD_WRITER_SYNCFS_MIN 8

typedef struct mttd_write_item {
        int fd;
        char *data; /* owned by the job */
        size_t len;
        bool sync;     /* fdatasync after the write */
        bool truncate; /* empty the file and write from its start */
        bool close_fd; /* close the fd after everything else */
        void *owner;   /* handed back untouched */
        dev_t dev;     /* the file system of fd, for shared syncs */
        uint64_t tag;  /* the owner's, handed back untouched */
        /* Written at the start of after_fd once the write went well (what a session's kept
         * state says of its report: keep.h); after_fd -1 for none. */
        int after_fd;
        size_t after_len;
        unsigned char after[MTTD_WRITE_AFTER_MAX];
        /* results, set by the writer */
        int error; /* 0, or the -errno of the write or the sync */
        size_t written;
} mttd_write_item;

struct mttd_writer;
typedef struct mttd_write_job {
        mttd_pool_job base;
        struct mttd_writer *writer;
        /* The writer's business: which item the thread is on and since when (under the
         * pool's lock), and where the items still the job's begin after a split. */
        size_t first, current;
        uint64_t item_started_us;
        bool syncing;
        bool told; /* the stuck callback was called for its current item */
        size_t n, cap;
        mttd_write_item items[];
} mttd_write_job;

/* Called on the loop thread for each item of a finished job; the job is freed after. */
typedef void (*mttd_write_done)(void *ctx, mttd_write_item *item);
/* Called on the loop thread for an item whose write in a shared job ran past the item
 * deadline: its owner's fd is not what it seemed (it stalls), and its item comes back
 * later, alone. */
typedef void (*mttd_write_stuck)(void *ctx, void *owner);

typedef struct mttd_writer mttd_writer;

/* Starts with no thread; threads are made on demand up to max_threads (more while some
 * are stalled). stuck may be NULL. */
int mttd_writer_new(struct ev_loop *loop, unsigned max_threads, mttd_write_done done,
                    mttd_write_stuck stuck, void *ctx, mttd_writer **out);
/* Jobs not yet taken are cancelled (fds closed as asked); threads blocked in a write are
 * left behind, since nothing can unblock them; the rest are joined. Accepts NULL. */
void mttd_writer_free(mttd_writer *w);
/* Queues a job (taken on success); its items come back through the done callback. */
int mttd_writer_submit(mttd_writer *w, mttd_write_job *job);
/* Grows the pool if queued jobs wait behind threads that have since stalled, and takes the
 * rest of a shared job from a thread stuck on one item (the tick calls it). */
void mttd_writer_poke(mttd_writer *w);
/* Jobs submitted and not yet handed back. */
size_t mttd_writer_pending(const mttd_writer *w);

mttd_write_job *mttd_write_job_new(size_t cap);
/* Adds an item (its data is the job's from now on); false when the job is full. */
bool mttd_write_job_add(mttd_write_job *job, const mttd_write_item *item);
/* Frees the job and its items' data; accepts NULL. */
void mttd_write_job_free(mttd_write_job *job);

/* Report writes and syncs off the event loop: a pool of writer threads takes jobs (write
 * these bytes to these fds, maybe fdatasync, maybe close) and hands every item back to the
 * loop through an ev_async. A job may carry many items, written one after the other, so
 * thousands of sessions cost a few thread hand-offs per flush, not thousands; only fds
 * that cannot stall are put together (mttd_fd_may_stall). A file that stalls holds one
 * thread, never the loop; the pool grows past stalled threads, so other writes go on. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A write waiting longer than this holds its thread without counting against the cap. */
#define MTTD_WRITER_STALLED_US 1000000
/* Threads in all, stalled ones included. */
#define MTTD_WRITER_HARD_MAX 256
/* Items one job carries at most. */
#define MTTD_WRITER_BATCH_MAX 256
/* Syncs of a job on one file system from which one syncfs replaces them. */
#define MTTD_WRITER_SYNCFS_MIN 8

typedef struct mttd_write_item {
        int fd;
        char *data; /* owned by the job */
        size_t len;
        bool sync;     /* fdatasync after the write */
        bool close_fd; /* close the fd after everything else */
        void *owner;   /* handed back untouched */
        dev_t dev;     /* the file system of fd, for shared syncs */
        uint64_t tag;  /* the owner's, handed back untouched */
        /* results, set by the writer */
        int error; /* 0 or a positive errno of the write or the sync */
        size_t written;
} mttd_write_item;

typedef struct mttd_write_job {
        struct mttd_write_job *next;
        uint64_t started_us; /* when a thread took it (the writer's business) */
        size_t n, cap;
        mttd_write_item items[];
} mttd_write_job;

/* Called on the loop thread for each item of a finished job; the job is freed after. */
typedef void (*mttd_write_done)(void *ctx, mttd_write_item *item);

typedef struct mttd_writer mttd_writer;

/* Starts with no thread; threads are made on demand up to max_threads (more while some
 * are stalled). */
int mttd_writer_new(struct ev_loop *loop, unsigned max_threads, mttd_write_done done, void *ctx,
                    mttd_writer **out);
/* Jobs not yet taken are cancelled (fds closed as asked); threads blocked in a write are
 * left behind, since nothing can unblock them; the rest are joined. Accepts NULL. */
void mttd_writer_free(mttd_writer *w);
/* Queues a job (taken on success); its items come back through the done callback. */
int mttd_writer_submit(mttd_writer *w, mttd_write_job *job);
/* Grows the pool if queued jobs wait behind threads that have since stalled: the check
 * submit makes, made again (the tick calls it). */
void mttd_writer_poke(mttd_writer *w);
/* Jobs submitted and not yet handed back. */
size_t mttd_writer_pending(const mttd_writer *w);

mttd_write_job *mttd_write_job_new(size_t cap);
/* Adds an item (its data is the job's from now on); false when the job is full. */
bool mttd_write_job_add(mttd_write_job *job, const mttd_write_item *item);
/* Frees the job and its items' data; accepts NULL. */
void mttd_write_job_free(mttd_write_job *job);

/* The type and file system of an open fd as the kernel has them cached: statx with
 * AT_STATX_DONT_SYNC, which does not ask a network file system's server (fstat may, and a
 * hung server would block the event loop with it). Returns 0 or -errno. */
int mttd_fd_stat(int fd, mode_t *mode, dev_t *dev);
/* Whether a write to fd may block for long: anything but a regular file on a local file
 * system (pipes nobody reads, terminals, network and FUSE mounts). Such fds get jobs of
 * their own. *regular says whether it is a regular file at all. */
bool mttd_fd_may_stall(int fd, dev_t *dev, bool *regular);

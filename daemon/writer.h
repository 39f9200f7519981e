/* Report writes and syncs off the event loop: a pool of writer threads takes jobs (write
 * these bytes to this fd, maybe fdatasync, maybe close) and hands them back to the loop
 * through an ev_async. A file that stalls holds one thread, never the loop; the pool grows
 * when every thread is busy, up to a cap, so other sessions' writes go on. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A write waiting longer than this holds its thread without counting against the cap. */
#define MTTD_WRITER_STALLED_US 1000000
/* Threads in all, stalled ones included. */
#define MTTD_WRITER_HARD_MAX 256

typedef struct mttd_write_job {
        struct mttd_write_job *next;
        int fd;
        char *data; /* owned by the job (freed by mttd_write_job_free) */
        size_t len;
        bool sync;     /* fdatasync after the write */
        bool close_fd; /* close the fd after everything else */
        void *owner;   /* handed back untouched */
        uint64_t submitted_us;
        uint64_t started_us; /* when a thread took it (the writer's business) */
        /* results, set by the writer */
        int error; /* 0 or a positive errno of the write or the sync */
        size_t written;
} mttd_write_job;

typedef void (*mttd_write_done)(void *ctx, mttd_write_job *job);

typedef struct mttd_writer mttd_writer;

/* Starts with no thread; threads are made on demand up to max_threads. */
int mttd_writer_new(struct ev_loop *loop, unsigned max_threads, mttd_write_done done, void *ctx,
                    mttd_writer **out);
/* Jobs not yet taken are cancelled (fds closed as asked); threads blocked in a write are
 * left behind, since nothing can unblock them; the rest are joined. Accepts NULL. */
void mttd_writer_free(mttd_writer *w);
/* Queues a job; it comes back through the done callback on the loop thread. */
int mttd_writer_submit(mttd_writer *w, mttd_write_job *job);
/* Jobs submitted and not yet handed back. */
size_t mttd_writer_pending(const mttd_writer *w);
void mttd_write_job_free(mttd_write_job *job);

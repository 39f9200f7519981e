/* Reads process-tree sources off the event loop. The sources of one user form a group, read
 * together (a process in many of that user's trees is read once) by one job at a time on a
 * pool of threads: a full read (walk and Pss) when the group's trees changed or every
 * MTTD_SAMPLER_FULL_US, else a fast read (RSS) at each tick (proctree.h). The loop uses
 * each source's latest value; a job out for longer than the read timeout makes its group's
 * sources late (their sessions say so and get no rows) until it comes back, while every other
 * group, session, call and signal goes on: a process whose memory map lock is held forever
 * (a FUSE page fault that never returns) holds one thread, never the loop. */
#pragma once

#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "source.h"

#define MTTD_SAMPLER_FULL_US 200000

typedef struct mttd_sampler mttd_sampler;
/* Reads of src came back (its sessions waiting for a first value may begin). */
typedef void (*mttd_sampler_answered)(void *ctx, mttd_source *src);

int mttd_sampler_new(struct ev_loop *loop, const mttd_config *cfg, mttd_sampler_answered answered,
                     void *ctx, mttd_sampler **out);
/* Threads stuck in a read are left behind (and logged). Accepts NULL. */
void mttd_sampler_free(mttd_sampler *s);
/* A new process source joins its user's group and is read at once (or with the group's next
 * job). */
int mttd_sampler_add(mttd_sampler *s, mttd_source *src, uint64_t now_us);
/* The source leaves its group: freed now, or when its group's job is back. */
void mttd_sampler_remove(mttd_sampler *s, mttd_source *src);
/* A read of src's group made from now on, told as soon as it is back (src->read_us says
 * when a read began). */
void mttd_sampler_read_now(mttd_sampler *s, mttd_source *src, uint64_t now_us);
/* At each fine tick, first: the reads that came back since the last. */
void mttd_sampler_collect(mttd_sampler *s);
/* At each fine tick, then: late jobs, and a new job for each group whose last one is back. */
void mttd_sampler_tick(mttd_sampler *s, uint64_t now_us);
/* Logs the reads still out past the deadline (at shutdown). */
void mttd_sampler_log_late(mttd_sampler *s, uint64_t now_us);

/* NVIDIA GPUs, read off the event loop. NVML (nvml.h) is loaded when first needed and read
 * by one job at a time on a thread of its own: NVML has no timeout, and a driver that hangs
 * holds that thread, never the loop. A read takes every GPU's memory and, while sessions of
 * the gpu scope run, every GPU's process lists, and sums each process tree's processes among
 * them (ancestry.h). The loop keeps the latest reading: what the GPU sources give their
 * sessions, what Sample shows, and whether NVML is there at all (an Open of a GPU scope
 * asks first). While GPU sources exist, a read goes out at each fine tick and is collected
 * at the next, as the sampler's (sampler.h); a read out past the read timeout makes the GPU
 * sources late (their sessions make no rows) and answers those who wait for it. */
#pragma once

#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "nvml.h"
#include "source.h"

typedef enum mttd_gpus_state {
        MTTD_GPUS_READY,  /* NVML is there; its GPUs are counted */
        MTTD_GPUS_ABSENT, /* it is not (why says what is missing) */
        MTTD_GPUS_WAIT,   /* a read that will tell is out: ask again when the told hook says */
        MTTD_GPUS_LATE,   /* ... and it has been out past the read timeout (why says so) */
} mttd_gpus_state;

typedef struct mttd_gpus_hooks {
        /* A read of src came back (its sessions waiting for a first value may begin). */
        void (*answered)(void *ctx, mttd_source *src);
        /* A read came back, or went late, after mttd_gpus_state said WAIT: ask again. */
        void (*told)(void *ctx);
        void *ctx;
} mttd_gpus_hooks;

typedef struct mttd_gpus mttd_gpus;

/* proc: where the processes are (MTT_PROCFS_ROOT). NVML is not loaded yet. */
int mttd_gpus_new(struct ev_loop *loop, const mttd_config *cfg, const char *proc,
                  const mttd_gpus_hooks *hooks, mttd_gpus **out);
/* A read stuck in NVML is left behind (and logged). Accepts NULL. */
void mttd_gpus_free(mttd_gpus *g);

/* Whether NVML is there now, for an Open of a GPU scope (since_us 0: a reading of any age
 * will do) or a Sample (a reading begun before since_us is read again: WAIT). A failed load
 * is tried again once it is MTTD_NVML_RETRY_US old. *why: the reason for ABSENT and LATE. */
mttd_gpus_state mttd_gpus_state_now(mttd_gpus *g, uint64_t now_us, uint64_t since_us,
                                    const char **why);
/* The latest reading's GPUs (READY): how many, and each one's numbers or error. */
unsigned mttd_gpus_reading(const mttd_gpus *g, const mttd_gpu **gpus);

/* A GPU source (gpu or gpu-device) joins and is read at once (or as soon as the read out
 * is back). */
int mttd_gpus_add(mttd_gpus *g, mttd_source *src, uint64_t now_us);
/* It leaves: freed now, or once the read out (or being told) is done with it. */
void mttd_gpus_remove(mttd_gpus *g, mttd_source *src);
/* A read made from now on, told as soon as it is back (src->read_us says when it began). */
void mttd_gpus_read_now(mttd_gpus *g, mttd_source *src, uint64_t now_us);
/* At each fine tick, first: the read that came back since the last. */
void mttd_gpus_collect(mttd_gpus *g);
/* At each fine tick, then: the next read, while GPU sources exist. */
void mttd_gpus_tick(mttd_gpus *g, uint64_t now_us);
/* GPU sources. */
unsigned mttd_gpus_sources(const mttd_gpus *g);

/* Write scheduling: when each session's buffered report text goes to a writer thread, and
 * in which job. Two lanes of writer threads: fds that cannot stall (local files) share
 * batched jobs and per-file-system sync jobs; fds that may stall (pipes, terminals, network
 * mounts) get jobs of their own, at most cfg->max_blocking_per_uid in flight per user.
 * What came back, or could not go, is handed to the owner's hooks; the session's own steps
 * are session.c's. */
#pragma once

#include <ev.h>
#include <stdint.h>

#include "config.h"
#include "table.h"
#include "writer.h"

typedef struct mttd_flush mttd_flush;

typedef struct mttd_flush_hooks {
        /* An item of s came back (r says what it meant). was_running: s ran before. */
        void (*written)(void *ctx, mttd_session *s, mttd_write_result r, bool was_running);
        /* s's report broke without a write coming back (no thread, no memory): it is ENDED
         * in error, or CLOSED when nothing of it is in flight any more. */
        void (*broke)(void *ctx, mttd_session *s, bool was_running);
        void *ctx;
} mttd_flush_hooks;

int mttd_flush_new(struct ev_loop *loop, const mttd_config *cfg, mttd_table *table,
                   const mttd_flush_hooks *hooks, mttd_flush **out);
void mttd_flush_free(mttd_flush *f);

/* A write of its own for s, now (through its user's share if its fd may block). */
void mttd_flush_soon(mttd_flush *f, mttd_session *s, uint64_t now_us, bool with_sync);
/* Every flush interval: what running sessions have buffered, and their syncs. */
void mttd_flush_due(mttd_flush *f, uint64_t now_us);
/* What every running session has buffered goes now, not at the next batch. */
void mttd_flush_now(mttd_flush *f, uint64_t now_us);
/* The last writes of every ended session at once (shutdown: one syncfs per file system). */
void mttd_flush_last(mttd_flush *f, uint64_t now_us);
/* No more writes wait for a user's share: shutdown writes what is left at once. */
void mttd_flush_stop(mttd_flush *f);
/* Writes submitted and not yet back. */
size_t mttd_flush_pending(const mttd_flush *f);
/* A queued write behind threads that have since stalled gets a thread of its own. */
void mttd_flush_poke(mttd_flush *f);

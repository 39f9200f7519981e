/* What a session measures besides the whole machine (the "system" scope, the one shared
 * meminfo sample): a process and its descendants ("process"), or a memory cgroup ("cgroup").
 * Sources are shared: sessions on the same process tree or cgroup hold one source, read once
 * per tick. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proctree.h"

typedef enum mttd_scope { MTTD_SCOPE_SYSTEM, MTTD_SCOPE_PROCESS, MTTD_SCOPE_CGROUP } mttd_scope;

const char *mttd_scope_name(mttd_scope s);
/* -1 for an unknown name. */
int mttd_scope_of(const char *name, mttd_scope *out);

typedef struct mttd_source {
        struct mttd_source *prev, *next;
        mttd_scope scope;
        pid_t pid;          /* process: the tree's root */
        int pidfd;          /* process: the root itself, so a pid reused is not followed */
        char *usage_file;   /* cgroup: memory.current (v2) or memory.usage_in_bytes (v1) */
        char *peak_file;    /* cgroup: memory.peak or memory.max_usage_in_bytes, or NULL */
        unsigned users;     /* sessions that hold it */
        uint64_t read_tick; /* the tracker's tick of the last read */
        int64_t kb;         /* what that read found, a spike the kernel saw included */
        int64_t peak_kb;    /* cgroup: the kernel's peak at that read, or -1 */
        int error;          /* 0, or the negative errno of that read */
        unsigned processes; /* process: how many the tree had */
        mttd_proctree tree;
} mttd_source;

/* A source for pid in scope (process or cgroup), not read yet; finds the cgroup through
 * /proc/PID/cgroup. -ESRCH when pid is gone, -ENOENT when it has no memory cgroup mttd can
 * read. */
int mttd_source_new(mttd_scope scope, pid_t pid, mttd_source **out);
void mttd_source_free(mttd_source *src);
/* Whether b measures what a does, so that a's reads can serve it (a process tree whose root
 * was gone at a's last read is another tree, whatever its pid). */
bool mttd_source_same(const mttd_source *a, const mttd_source *b);
/* Reads the source now. Returns 0 or a negative errno (kept in src->error); src->kb keeps
 * the last value then, or 0 for a process tree whose root is gone. */
int mttd_source_read(mttd_source *src);

/* Whether a process descends from another, by its chain of parents (/proc/PID/stat): how
 * the GPU scope finds a process tree's processes among the few that NVML says hold GPU
 * memory, without walking the tree. The parents a read looked up are kept, in a hash table,
 * for its next questions; a new read forgets them (a process's parent changes when its parent
 * ends). A process's line is walked once however many trees ask about it: one read costs at
 * most a /proc read per process on the lines, and a lookup per step. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mttd_ancestry {
        const char *proc; /* MTT_PROCFS_ROOT, or a fake one in tests */
        struct mttd_parent {
                pid_t pid, ppid; /* pid 0: a free slot; ppid -1: not known (gone) */
                unsigned walk;   /* the last line it was on (a loop ends a line) */
        } * slots;
        size_t n, cap; /* cap: 0 or a power of two */
        unsigned walk;
        pid_t *line;
        size_t line_cap;
} mttd_ancestry;

void mttd_ancestry_init(mttd_ancestry *a, const char *proc);
/* A new read: every parent is looked up again. */
void mttd_ancestry_forget(mttd_ancestry *a);
void mttd_ancestry_free(mttd_ancestry *a);
/* pid, its parent, its parent's and so on (each pid once), as far as they can be read: up to
 * init, or to a parent that is gone. *line is a's until its next call. Returns the length, at
 * least 1 (pid itself), at most MTTD_ANCESTRY_MAX_DEPTH; 0 if out of memory. */
size_t mttd_ancestry_line(mttd_ancestry *a, pid_t pid, const pid_t **line);
/* The parent of pid, field 4 of PROC/PID/stat. 0, or -errno (-ESRCH: no such process). */
int mttd_parent_of(const char *proc, pid_t pid, pid_t *ppid);

/* A line longer than this is not a line (parents changed under the walk). */
#define MTTD_ANCESTRY_MAX_DEPTH 4096

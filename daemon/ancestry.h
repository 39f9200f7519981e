/* Whether a process descends from another, by its chain of parents (/proc/PID/stat): how
 * the GPU scope finds a process tree's processes among the few that NVML says hold GPU
 * memory, without walking the tree. The parents a read looked up are kept for its next
 * questions; a new read forgets them (a process's parent changes when its parent ends). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mttd_ancestry {
        const char *proc; /* MTT_PROCFS_ROOT, or a fake one in tests */
        struct mttd_parent {
                pid_t pid, ppid; /* ppid -1: not known (the process is gone) */
        } * known;
        size_t n, cap;
} mttd_ancestry;

void mttd_ancestry_init(mttd_ancestry *a, const char *proc);
/* A new read: every parent is looked up again. */
void mttd_ancestry_forget(mttd_ancestry *a);
void mttd_ancestry_free(mttd_ancestry *a);
/* Whether pid is root or one of root's descendants now (false when a parent on the way
 * cannot be read: the process is gone). */
bool mttd_ancestry_descends(mttd_ancestry *a, pid_t pid, pid_t root);
/* The parent of pid, field 4 of PROC/PID/stat. 0, or -errno (-ESRCH: no such process). */
int mttd_parent_of(const char *proc, pid_t pid, pid_t *ppid);

/* The memory of process trees: a process and all its descendants as the trees are at the
 * moment of a read (children come and go). One user's trees are read together as a forest,
 * so that a process in many trees (sessions rooted along one chain) is read once.
 *
 * A full read walks the trees (/proc/PID/task/TID/children) and reads each process's
 * proportional set size (smaps_rollup's Pss) and resident size (statm). A fast read reads
 * only the resident sizes of the processes the last full read found, and moves each
 * process's Pss by how much its RSS moved since: what a process allocates or frees counts at
 * once, shared pages and new children are brought up to date by the next full read.
 *
 * The Pss of a process that does not belong to the forest's user (a setuid program started
 * in the tree) is not read (smaps_rollup is not theirs to read): its RSS, which statm shows
 * to everyone, counts instead. These reads may block (smaps_rollup takes the process's
 * memory map lock): they run on the sampler's threads, never on the event loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct mttd_tree_root {
        pid_t pid;
        int pidfd; /* the root itself, so that a pid reused is not followed; -1 without */
        /* results */
        int64_t kb;
        unsigned processes;
        int error; /* 0; -ESRCH: the root is gone (kb 0); -EAGAIN: not read, over budget */
        bool cut;  /* the walk stopped at the budget inside this tree */
} mttd_tree_root;

struct mttd_tree_member;
typedef struct mttd_forest {
        uid_t uid;        /* whose trees: other users' processes give RSS only */
        const char *proc; /* MTT_PROCFS_ROOT, or a fake tree in tests */
        unsigned budget;  /* processes a full read reads at most */
        unsigned rotate;  /* which tree a full read starts with, so a cut moves around */
        struct mttd_tree_member *m;
        size_t n, cap;
        int32_t *order; /* the last full read's members, each before its parent */
        int32_t *depth, *scratch;
        int32_t *hash; /* pid -> member, open addressing */
        size_t hash_cap;
        int32_t *root_member; /* per root of the last full read, or -1 */
        size_t n_roots;
        int64_t page_kb;
} mttd_forest;

void mttd_forest_init(mttd_forest *f, uid_t uid, const char *proc, unsigned budget);
void mttd_forest_free(mttd_forest *f);
/* Walks and reads every root's tree. */
void mttd_forest_full(mttd_forest *f, mttd_tree_root *roots, size_t n);
/* Reads the RSS of the last full read's processes; roots must be that read's, in order. */
void mttd_forest_fast(mttd_forest *f, mttd_tree_root *roots, size_t n);

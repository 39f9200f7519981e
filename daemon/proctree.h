/* The memory of a process and all its descendants, as the tree is at the moment of the read
 * (children come and go): the sum of their proportional set sizes (smaps_rollup's Pss) where
 * mttd may read them, else of their resident sizes (statm). procfs reads only. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

typedef struct mttd_proctree {
        pid_t *pids; /* the walk's stack, kept between reads */
        size_t cap;
} mttd_proctree;

/* Returns 0 with *kb and the number of processes in *n, or -ESRCH when root is gone. */
int mttd_proctree_kb(mttd_proctree *t, pid_t root, int64_t *kb, unsigned *n);
void mttd_proctree_free(mttd_proctree *t);

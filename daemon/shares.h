/* Per-user counts of report writes in flight to fds that may block (pipes, terminals,
 * network file systems). Each user may have only so many at once: one user's pipes that
 * nobody reads then hold that many writer threads at most, never all of them. Pure. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct mttd_uid_writes {
        uid_t uid;
        unsigned in_flight;
} mttd_uid_writes;

typedef struct mttd_shares {
        mttd_uid_writes *v; /* users with writes in flight only */
        size_t n, cap;
} mttd_shares;

void mttd_shares_free(mttd_shares *sh);
/* One more write of uid in flight. Returns 0, or -ENOMEM (and counts nothing). */
int mttd_shares_add(mttd_shares *sh, uid_t uid);
/* One write of uid came back. */
void mttd_shares_remove(mttd_shares *sh, uid_t uid);
unsigned mttd_shares_in_flight(const mttd_shares *sh, uid_t uid);

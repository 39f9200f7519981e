/* What a report fd is, as far as writing to it goes: its type, its file system, whether a
 * write to it may block for long, and whether it is a file a user keeps at all. Every answer
 * comes from what the kernel has cached (statx with AT_STATX_DONT_SYNC, the mount table):
 * nothing here asks a network or FUSE server, which could block the event loop. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct mttd_fd_kind {
        mode_t mode;
        dev_t dev;      /* the file system, for shared syncs */
        bool regular;   /* a regular file */
        bool may_stall; /* anything but a regular file on a local file system: pipes nobody
                         * reads, terminals, network and FUSE mounts, mounts mttd cannot see */
        bool pseudo;    /* a regular file of procfs, sysfs or another pseudo file system */
} mttd_fd_kind;

/* Opens what the answers need for good (the mount table's change notice), so that the
 * first Open does not add an fd. */
void mttd_fd_kind_init(void);
void mttd_fd_kind_done(void);
/* Returns 0 or -errno (the fd cannot be examined). */
int mttd_fd_kind_of(int fd, mttd_fd_kind *out);

/* Report fds through statx and the mount table. */
#include "fdkind.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/procfs.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U /* Linux 5.8 */
#endif

/* File systems whose writes wait on a network or a user-space server. */
static const char *const remote[] = {"nfs",   "cifs",      "smb",   "fuse",    "fuseblk", "ceph",
                                     "afs",   "9p",        "coda",  "lustre",  "gfs2",    "ocfs2",
                                     "davfs", "glusterfs", "sshfs", "virtiofs"};
/* File systems whose files are the kernel's, not a user's data: writing a report into one
 * (/proc/self/mem, a sysfs knob) is nothing a user keeps, and may do anything. */
static const char *const pseudo[] = {
    "proc",   "sysfs",  "debugfs",    "tracefs", "securityfs",  "cgroup", "cgroup2",   "configfs",
    "bpf",    "pstore", "efivarfs",   "fusectl", "binfmt_misc", "mqueue", "hugetlbfs", "autofs",
    "devpts", "nsfs",   "rpc_pipefs", "nfsd",    "selinuxfs",   "smackfs"};

static bool in_list(const char *type, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(type, list[i]) == 0 ||
                    (strncmp(type, list[i], strlen(list[i])) == 0 && type[strlen(list[i])] == '.'))
                        return true;
        return false;
}

/* Answers for mounts seen before: mountinfo is read once per mount, not once per Open (it
 * is long on hosts with many mounts). A mount id, like a device number, is given again
 * after an unmount: the whole cache goes whenever the mount table changes, which a poll of
 * /proc/self/mounts tells (POLLPRI), at the cost of one system call per Open. */
static struct verdict {
        uint64_t mnt_id;
        bool may_stall, pseudo, used;
} cache[32];
static size_t cache_next;
static int mounts_fd = -2;

void mttd_fd_kind_init(void)
{
        if (mounts_fd != -2)
                return;
        int fd = mtt_procfs_mounts_open(MTT_PROCFS_ROOT);
        mounts_fd = fd >= 0 ? fd : -1; /* -2 (-ENOENT) is "not opened yet" */
}

void mttd_fd_kind_done(void)
{
        if (mounts_fd >= 0)
                close(mounts_fd);
        mounts_fd = -2;
}

static void forget_if_mounts_changed(void)
{
        mttd_fd_kind_init();
        struct pollfd p = {.fd = mounts_fd, .events = POLLPRI};
        /* Without the file, nothing is kept. */
        if (mounts_fd < 0 || (poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR))))
                memset(cache, 0, sizeof(cache));
}

/* For tests alone: file systems of this type count as local (MTTD_TEST_LOCAL_FS=fuse), so a
 * report that stalls can be put where only local files go. */
static bool test_local(const char *type)
{
        const char *local = getenv("MTTD_TEST_LOCAL_FS");
        return local && *local && strncmp(type, local, strlen(local)) == 0;
}

static struct verdict judge(uint64_t mnt_id, dev_t dev)
{
        struct verdict v = {.mnt_id = mnt_id, .may_stall = true, .used = true};
        char type[64];
        /* From the mount table, a local read: statfs would ask an NFS or FUSE server. */
        if (mtt_procfs_mount_type(MTT_PROCFS_ROOT, mnt_id, dev, type, sizeof(type)) < 0)
                return v; /* a file system mttd cannot see: assume the worst, allow it */
        v.pseudo = in_list(type, pseudo, sizeof(pseudo) / sizeof(pseudo[0]));
        v.may_stall =
            !test_local(type) && in_list(type, remote, sizeof(remote) / sizeof(remote[0]));
        return v;
}

int mttd_fd_kind_of(int fd, mttd_fd_kind *out)
{
        struct statx stx;
        *out = (mttd_fd_kind){.may_stall = true};
        if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MNT_ID, &stx) < 0)
                return -errno;
        out->mode = stx.stx_mode;
        out->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
        out->regular = S_ISREG(stx.stx_mode);
        if (!out->regular)
                return 0;
        if (!(stx.stx_mask & STATX_MNT_ID))
                return 0; /* a kernel before 5.8: every file may stall */
        forget_if_mounts_changed();
        struct verdict *v = NULL;
        for (size_t i = 0; i < sizeof(cache) / sizeof(cache[0]) && !v; i++)
                if (cache[i].used && cache[i].mnt_id == stx.stx_mnt_id)
                        v = &cache[i];
        if (!v) {
                v = &cache[cache_next++ % (sizeof(cache) / sizeof(cache[0]))];
                *v = judge(stx.stx_mnt_id, out->dev);
        }
        out->may_stall = v->may_stall;
        out->pseudo = v->pseudo;
        return 0;
}

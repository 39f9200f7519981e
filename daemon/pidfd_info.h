/* Pidfd interfaces newer than Debian 12's kernel headers: SO_PEERPIDFD (Linux 6.5) and
 * PIDFD_GET_INFO (Linux 6.13; its exit status 6.15). An older kernel answers ENOPROTOOPT,
 * ENOTTY, or without the asked bit in the mask. */
#pragma once

#include <linux/types.h>
#include <sys/ioctl.h>

#define MTTD_SO_PEERPIDFD 77

struct mttd_pidfd_info {
        __u64 mask;
        __u64 cgroupid;
        __u32 pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        __s32 exit_code;
};
#define MTTD_PIDFD_GET_INFO   _IOWR(0xFF, 11, struct mttd_pidfd_info)
#define MTTD_PIDFD_INFO_CREDS (1ULL << 1)
#define MTTD_PIDFD_INFO_EXIT  (1ULL << 3)

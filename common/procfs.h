/* What mtt reads of /proc and of the cgroup file systems, in one place. Every reader takes
 * its root ("/proc", "/sys/fs/cgroup", or a fake tree in tests) and is built on one whole-file
 * read and one "value after a key" parser; the parsers of whole texts are pure. Functions
 * return 0 or a negative errno unless said otherwise. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The roots of the live machine: callers pass these, tests a fake tree. */
#define MTT_PROCFS_ROOT        "/proc"
#define MTT_PROCFS_CGROUP_ROOT "/sys/fs/cgroup"

/* ---- files ---- */

/* The whole file at path into buf, NUL-terminated. -EFBIG when it holds more than size - 1
 * bytes (buf has its start then). */
int mtt_procfs_read(const char *path, char *buf, size_t size);
/* The whole file at path, of any length, into *out (malloc'd, NUL-terminated; its length in
 * *len unless len is NULL). */
int mtt_procfs_read_alloc(const char *path, char **out, size_t *len);
/* The number after key at the start of a line of text ("oom_kill 3", "Uid:\t1000\t..."):
 * key is followed by blanks, so "oom_kill" is not "oom_kill_disable". -ENODATA when no line
 * has key, -EINVAL when its value is no number. */
int mtt_procfs_value(const char *text, const char *key, long long *out);
/* The same, read from the file at path. */
int mtt_procfs_read_value(const char *path, const char *key, long long *out);
/* A file that holds one number (a cgroup's memory.current), read in one read(2). */
int mtt_procfs_read_number(const char *path, long long *out);

/* ---- processes ---- */

typedef struct mtt_procfs_stat {
        char state;          /* field 3: 'R', 'S', 'Z' (a zombie), 'X' (being reaped), ... */
        bool have_exit_code; /* the line reaches field 52 (Linux 3.5) */
        int exit_code;       /* field 52: a zombie's wait status (0 where we may not read it) */
} mtt_procfs_stat;

/* A /proc/PID/stat line. The command (field 2) may hold anything, ") Z " included: fields
 * are counted from its last ')'. -EINVAL when there is no state. */
int mtt_procfs_stat_parse(const char *text, mtt_procfs_stat *out);
/* The wait status of pid while it is a zombie, from PROC/PID/stat, read by a process of
 * effective uid reader (the kernel shows 0 to anyone but the owner and root). Returns 0 with
 * *status; -EAGAIN: not yet (a zombie that reader may not read, or one being reaped); -ESRCH: no
 * zombie (reaped already, or the pid taken again). */
int mtt_procfs_zombie_status(const char *proc, pid_t pid, uid_t reader, int *status);
/* The real uid of pid, from PROC/PID/status. */
int mtt_procfs_ruid_of(const char *proc, pid_t pid, uid_t *out);
/* The pid of a pidfd of ours, from PROC/self/fdinfo/FD. -ESRCH once the process has ended. */
int mtt_procfs_pidfd_pid(const char *proc, int pidfd, pid_t *out);

/* ---- mounts ---- */

/* The file system type of mount mnt_id in a mountinfo text; else (a mount of another
 * namespace) of a mount with device dev. -ENOENT when neither is there. */
int mtt_procfs_mountinfo_type(const char *text, uint64_t mnt_id, dev_t dev, char *type,
                              size_t size);
/* The same, from PROC/self/mountinfo (a local read, where statfs would ask an NFS or FUSE
 * server and block with it). */
int mtt_procfs_mount_type(const char *proc, uint64_t mnt_id, dev_t dev, char *type, size_t size);
/* PROC/self/mounts, open O_CLOEXEC: poll says POLLPRI when the mount table changes. Returns
 * the fd or -errno. */
int mtt_procfs_mounts_open(const char *proc);

/* ---- memory cgroups ---- */

/* The memory cgroup in a /proc/PID/cgroup text: v1's memory controller's path where that is
 * mounted, else the unified hierarchy's; *v1 says which. -ENOENT when there is none,
 * -ENAMETOOLONG when it does not fit in size. */
int mtt_procfs_cgroup_parse(const char *text, char *out, size_t size, bool *v1);
/* The directory of pid's memory cgroup under cgroup_root (CGROUP_ROOT/memory/PATH for v1,
 * CGROUP_ROOT/PATH for v2), found through PROC/PID/cgroup (read whole: a line may be of any
 * length). */
int mtt_procfs_cgroup_dir(const char *proc, const char *cgroup_root, pid_t pid, char *out,
                          size_t size, bool *v1);

/* OOM kill counts, to tell an OOM kill from another SIGKILL: the count of the process's
 * memory cgroup (v2 memory.events, v1 memory.oom_control) or of the system (PROC/vmstat;
 * the process may have moved to a cgroup of its own) went up. */
typedef struct mtt_procfs_oom_counts {
        long long cgroup;       /* kills in the process's memory cgroup, or -errno if unknown */
        long long system;       /* kills on the whole system, or -errno if unknown */
        char cgroup_file[4200]; /* where the cgroup's count is read, "" if unknown */
} mtt_procfs_oom_counts;

/* The count of pid's memory cgroup; out->system is left to the caller (unknown here:
 * mtt_procfs_oom_system). *out is filled also on failure, with what is unknown marked so. */
int mtt_procfs_oom_counts_of(const char *proc, const char *cgroup_root, pid_t pid,
                             mtt_procfs_oom_counts *out);
/* The system's count, PROC/vmstat's oom_kill: the count, or -errno. */
long long mtt_procfs_oom_system(const char *proc);
/* Counts again, from the files read before (the process may be gone by now). *now is filled
 * also on failure. now may be before. */
int mtt_procfs_oom_counts_again(const char *proc, const mtt_procfs_oom_counts *before,
                                mtt_procfs_oom_counts *now);
/* Whether the OOM killer killed between the two counts: the cgroup's or the system's count
 * moved. */
bool mtt_procfs_oom_killed(const mtt_procfs_oom_counts *before, const mtt_procfs_oom_counts *now);

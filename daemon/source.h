/* What a session measures besides the whole machine (the "system" scope, the one shared
 * meminfo sample): a process and its descendants ("process"), a memory cgroup ("cgroup"),
 * the memory a process and its descendants hold on NVIDIA GPUs ("gpu") or the memory used on
 * the GPUs ("gpu-device"). Sources are shared: one user's sessions on the same process tree,
 * cgroup or GPUs hold one source. A cgroup's files are the kernel's and are read on the loop
 * (mttd_source_read); a process tree's files are its processes', read by the sampler
 * (sampler.h), and the GPUs by NVML on a thread of their own (gpus.h): both off the loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

typedef enum mttd_scope {
        MTTD_SCOPE_SYSTEM,
        MTTD_SCOPE_PROCESS,
        MTTD_SCOPE_CGROUP,
        MTTD_SCOPE_GPU,
        MTTD_SCOPE_GPU_DEVICE,
} mttd_scope;
#define MTTD_SCOPE_LAST MTTD_SCOPE_GPU_DEVICE

const char *mttd_scope_name(mttd_scope s);
/* Whether a scope measures a process (it has a tracked pid and a pidfd). */
bool mttd_scope_has_process(mttd_scope s);
/* Whether it measures GPU memory (gpu, gpu-device). */
bool mttd_scope_is_gpu(mttd_scope s);
/* Whether its sources are read off the loop (the sampler's or the GPUs' thread): a session
 * waits for the first value, and a Close for a read made after it. */
bool mttd_scope_read_off_loop(mttd_scope s);
/* 0, or -EINVAL for an unknown name. */
int mttd_scope_of(const char *name, mttd_scope *out);

typedef struct mttd_source {
        LIST_ENTRY(mttd_source) link; /* the tick's sources */
        mttd_scope scope;
        pid_t pid;              /* the tree's root, or the process whose cgroup it is */
        int gpu;                /* gpu-device: the one GPU, or -1 for all */
        int pidfd;              /* that process, so a pid reused is not followed */
        uid_t uid;              /* the user whose sessions hold it */
        char *usage_file;       /* cgroup: memory.current (v2) or memory.usage_in_bytes (v1) */
        char *peak_file;        /* cgroup: memory.peak or memory.max_usage_in_bytes, or NULL */
        unsigned users;         /* sessions that hold it */
        uint64_t read_tick;     /* cgroup: the tick's count at the last read */
        int64_t kb;             /* what the last read found, a spike the kernel saw included */
        int64_t peak_kb;        /* cgroup: the kernel's peak at that read, or -1 */
        int error;              /* 0, or the negative errno of that read */
        unsigned processes;     /* process: how many the tree had */
        bool cut;               /* process: the tree was larger than its user's budget */
        bool have_value;        /* process: a read came back since the source was made */
        uint64_t read_us;       /* process, GPU: when the read that gave kb began */
        char gpu_why[192];      /* GPU: what the last read could not read ("" when all) */
        unsigned waiting;       /* process: its sessions that wait for a read of it */
        uint64_t late_since_us; /* process: its read is out past the deadline, since then */
        bool orphan;            /* process: released while its read is out; freed once back */
        void *group;            /* process: the sampler's */
        bool gpu_in_job;        /* GPU: in the read that is out (gpus.h) */
        bool gpu_unread;        /* GPU: the last read could not read it all (gpu_why) */
} mttd_source;

/* A source for pid in scope (not the system's), not read yet, holding pidfd (taken, also
 * on failure; -1 for gpu-device, which measures GPU gpu, or all for -1), for sessions of uid.
 * A cgroup is found through /proc/PID/cgroup: -ENOENT when pid has no memory cgroup mttd can
 * read, -ESRCH when pid is gone. */
int mttd_source_new(mttd_scope scope, pid_t pid, int pidfd, int gpu, uid_t uid, mttd_source **out);
void mttd_source_free(mttd_source *src);
/* Whether b measures what a does for the same user, so that a's reads can serve it (a
 * process tree whose root has ended is another tree, whatever its pid). */
bool mttd_source_same(const mttd_source *a, const mttd_source *b);
/* Reads a cgroup source now. Returns 0 or a negative errno (kept in src->error); src->kb
 * keeps the last value then. */
int mttd_source_read(mttd_source *src);
/* Whether a session on src gets a value now: a read off the loop must have come back, and
 * not be late. */
bool mttd_source_ready(const mttd_source *src);

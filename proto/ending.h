/* How a process ended, in the words mttd and mttctl put in a session's cause ("killed by
 * SIGKILL (OOM killer)"), and whether the OOM killer did it: a SIGKILL while the oom_kill
 * count of the process's memory cgroup (v2 memory.events, v1 memory.oom_control) or of the
 * system (/proc/vmstat; the process may have moved to a cgroup of its own) went up. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct mtt_proto_oom_counts {
        long long cgroup;       /* kills in the process's memory cgroup, -1 if unknown */
        long long system;       /* kills on the whole system, -1 if unknown */
        char cgroup_file[4200]; /* where the cgroup's count is read, "" if unknown */
} mtt_proto_oom_counts;

/* The memory cgroup in a /proc/PID/cgroup text: v1's memory controller's path where that
 * is mounted, else the unified hierarchy's. False when there is none or it does not fit in
 * size; *v1 says which. */
bool mtt_proto_cgroup_parse(const char *text, char *out, size_t size, bool *v1);
/* The same, read from /proc/PID/cgroup (whole: a line may be of any length). */
bool mtt_proto_cgroup_of(pid_t pid, char *out, size_t size, bool *v1);

/* The count of pid's memory cgroup (found through /proc/PID/cgroup); out->system is left
 * to the caller (mtt_proto_oom_system). */
void mtt_proto_oom_counts_of(pid_t pid, mtt_proto_oom_counts *out);
/* The system's count (/proc/vmstat oom_kill), or -1. */
long long mtt_proto_oom_system(void);
/* Counts again, from the files read before (the process may be gone by now). */
void mtt_proto_oom_counts_again(const mtt_proto_oom_counts *before, mtt_proto_oom_counts *now);
/* Whether the OOM killer killed between the two counts: the cgroup's or the system's count
 * moved. */
bool mtt_proto_oom_killed(const mtt_proto_oom_counts *before, const mtt_proto_oom_counts *now);

/* A wait status in words: "exited with status 3", "killed by SIGSEGV (core dumped)",
 * "killed by SIGKILL (OOM killer)" (oom: the OOM killer sent the SIGKILL). */
void mtt_proto_describe_exit(int wait_status, bool oom, char *buf, size_t size);

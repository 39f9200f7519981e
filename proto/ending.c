/* Process endings and OOM kill counts, from /proc and the cgroup file systems. */
#include "ending.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* The number after "key " on a line of a "key value" file, or -1. */
static long long read_key(const char *path, const char *key)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        char line[256];
        long long v = -1;
        size_t n = strlen(key);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, n) == 0 && line[n] == ' ' &&
                    sscanf(line + n + 1, "%lld", &v) == 1)
                        break;
        fclose(f);
        return v;
}

/* The file with pid's memory cgroup's oom_kill count: v1's memory controller if mounted,
 * else the unified hierarchy's. */
static bool cgroup_file_of(pid_t pid, char *out, size_t size)
{
        char path[64], line[1024];
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        char v1[1024] = "", v2[1024] = "";
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *ctrl = strchr(line, ':');
                char *cg = ctrl ? strchr(ctrl + 1, ':') : NULL;
                if (!cg)
                        continue;
                *cg++ = '\0';
                ctrl++;
                if (strcmp(ctrl, "memory") == 0)
                        snprintf(v1, sizeof(v1), "%s", cg);
                else if (strcmp(line, "0") == 0 && ctrl[0] == '\0')
                        snprintf(v2, sizeof(v2), "%s", cg);
        }
        fclose(f);
        if (v1[0])
                return snprintf(out, size, "/sys/fs/cgroup/memory%s/memory.oom_control", v1) <
                       (int)size;
        if (v2[0])
                return snprintf(out, size, "/sys/fs/cgroup%s/memory.events", v2) < (int)size;
        return false;
}

void mtt_proto_oom_counts_of(pid_t pid, mtt_proto_oom_counts *out)
{
        if (!cgroup_file_of(pid, out->cgroup_file, sizeof(out->cgroup_file)))
                out->cgroup_file[0] = '\0';
        out->cgroup = out->cgroup_file[0] ? read_key(out->cgroup_file, "oom_kill") : -1;
        out->system = -1;
}

long long mtt_proto_oom_system(void)
{
        return read_key("/proc/vmstat", "oom_kill");
}

void mtt_proto_oom_counts_again(const mtt_proto_oom_counts *before, mtt_proto_oom_counts *now)
{
        if (now != before)
                memcpy(now->cgroup_file, before->cgroup_file, sizeof(now->cgroup_file));
        now->cgroup = now->cgroup_file[0] ? read_key(now->cgroup_file, "oom_kill") : -1;
        now->system = mtt_proto_oom_system();
}

bool mtt_proto_oom_killed(const mtt_proto_oom_counts *before, const mtt_proto_oom_counts *now)
{
        return (before->cgroup >= 0 && now->cgroup > before->cgroup) ||
               (before->system >= 0 && now->system > before->system);
}

void mtt_proto_describe_exit(int wait_status, bool oom, char *buf, size_t size)
{
        if (WIFEXITED(wait_status)) {
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(wait_status));
                return;
        }
        int sig = WTERMSIG(wait_status);
        const char *abbrev = sigabbrev_np(sig);
        char name[32];
        if (abbrev)
                snprintf(name, sizeof(name), "SIG%s", abbrev);
        else
                snprintf(name, sizeof(name), "signal %d", sig);
        snprintf(buf, size, "killed by %s%s%s", name,
                 WCOREDUMP(wait_status) ? " (core dumped)" : "",
                 oom && sig == SIGKILL ? " (OOM killer)" : "");
}

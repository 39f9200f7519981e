/* Process endings and OOM kill counts, from /proc and the cgroup file systems. */
#include "ending.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

bool mtt_proto_cgroup_parse(const char *text, char *out, size_t size, bool *v1)
{
        const char *unified = NULL, *memory = NULL;
        size_t unified_len = 0, memory_len = 0;
        for (const char *line = text; *line;) {
                const char *end = strchrnul(line, '\n');
                /* "ID:CONTROLLERS:PATH"; the path may hold ':' itself. */
                const char *c1 = memchr(line, ':', (size_t)(end - line));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
                if (c2 && c2 - c1 - 1 == 6 && memcmp(c1 + 1, "memory", 6) == 0) {
                        memory = c2 + 1;
                        memory_len = (size_t)(end - memory);
                } else if (c2 && c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
                        unified = c2 + 1;
                        unified_len = (size_t)(end - unified);
                }
                line = *end ? end + 1 : end;
        }
        const char *path = memory ? memory : unified;
        size_t len = memory ? memory_len : unified_len;
        if (!path || len >= size)
                return false;
        memcpy(out, path, len);
        out[len] = '\0';
        *v1 = memory != NULL;
        return true;
}

bool mtt_proto_cgroup_of(pid_t pid, char *out, size_t size, bool *v1)
{
        char file[64];
        snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
        FILE *f = fopen(file, "re");
        if (!f)
                return false;
        char *text = NULL;
        size_t cap = 0;
        /* The whole file at once: a line may be longer than any fixed buffer. */
        bool ok = getdelim(&text, &cap, '\0', f) > 0 && mtt_proto_cgroup_parse(text, out, size, v1);
        free(text);
        fclose(f);
        return ok;
}

/* The file with pid's memory cgroup's oom_kill count: v1's memory controller if mounted,
 * else the unified hierarchy's. */
static bool cgroup_file_of(pid_t pid, char *out, size_t size)
{
        char cg[4096];
        bool v1;
        if (!mtt_proto_cgroup_of(pid, cg, sizeof(cg), &v1))
                return false;
        return snprintf(out, size,
                        v1 ? "/sys/fs/cgroup/memory%s/memory.oom_control"
                           : "/sys/fs/cgroup%s/memory.events",
                        cg) < (int)size;
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

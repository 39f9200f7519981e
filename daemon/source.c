/* Process-tree and cgroup sources. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *mttd_scope_name(mttd_scope s)
{
        static const char *const names[] = {"system", "process", "cgroup"};
        return names[s];
}

int mttd_scope_of(const char *name, mttd_scope *out)
{
        for (int s = MTTD_SCOPE_SYSTEM; s <= MTTD_SCOPE_CGROUP; s++)
                if (strcmp(name, mttd_scope_name((mttd_scope)s)) == 0) {
                        *out = (mttd_scope)s;
                        return 0;
                }
        return -1;
}

/* A number file of the cgroup file system, in bytes. */
static int read_bytes(const char *path, int64_t *out)
{
        char buf[64];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        int err = errno;
        close(fd);
        if (n <= 0)
                return n < 0 ? -err : -EIO;
        buf[n] = '\0';
        long long v;
        if (sscanf(buf, "%lld", &v) != 1)
                return -EIO;
        *out = v;
        return 0;
}

/* pid's memory cgroup directory: v1's memory controller if mounted, else the unified one. */
static int cgroup_dir(pid_t pid, char *out, size_t size, bool *v1)
{
        char path[64], line[1024], unified[1024] = "";
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -ESRCH;
        int r = -ENOENT;
        while (r < 0 && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *ctrl = strchr(line, ':'), *cg = ctrl ? strchr(ctrl + 1, ':') : NULL;
                if (!cg)
                        continue;
                *cg++ = '\0';
                if (strcmp(ctrl + 1, "memory") == 0) {
                        snprintf(out, size, "/sys/fs/cgroup/memory%s", cg);
                        *v1 = true;
                        r = 0;
                } else if (strcmp(line, "0") == 0 && ctrl[1] == '\0') {
                        snprintf(unified, sizeof(unified), "%s", cg);
                }
        }
        fclose(f);
        if (r < 0 && unified[0]) {
                snprintf(out, size, "/sys/fs/cgroup%s", unified);
                *v1 = false;
                r = 0;
        }
        return r;
}

static char *join(const char *dir, const char *file)
{
        char *p;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

int mttd_source_new(mttd_scope scope, pid_t pid, mttd_source **out)
{
        mttd_source *src = calloc(1, sizeof(*src));
        if (!src)
                return -ENOMEM;
        src->scope = scope;
        src->pid = pid;
        src->pidfd = -1;
        src->peak_kb = -1;
        if (scope == MTTD_SCOPE_PROCESS) {
                /* Without pidfds (an old kernel, valgrind) the pid alone is followed. */
                src->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                if (src->pidfd < 0 && errno == ESRCH) {
                        free(src);
                        return -ESRCH;
                }
        }
        src->read_tick = UINT64_MAX;
        if (scope == MTTD_SCOPE_CGROUP) {
                char dir[1100];
                bool v1;
                int r = cgroup_dir(pid, dir, sizeof(dir), &v1);
                if (r == 0) {
                        src->usage_file =
                            join(dir, v1 ? "memory.usage_in_bytes" : "memory.current");
                        src->peak_file =
                            join(dir, v1 ? "memory.max_usage_in_bytes" : "memory.peak");
                        int64_t b;
                        r = !src->usage_file ? -ENOMEM : read_bytes(src->usage_file, &b);
                        if (r < 0 && r != -ENOMEM)
                                r = -ENOENT;
                }
                if (r < 0) {
                        mttd_source_free(src);
                        return r;
                }
        }
        *out = src;
        return 0;
}

void mttd_source_free(mttd_source *src)
{
        if (!src)
                return;
        if (src->pidfd >= 0)
                close(src->pidfd);
        free(src->usage_file);
        free(src->peak_file);
        mttd_proctree_free(&src->tree);
        free(src);
}

bool mttd_source_same(const mttd_source *a, const mttd_source *b)
{
        if (a->scope != b->scope)
                return false;
        if (a->scope == MTTD_SCOPE_PROCESS) /* and a's root alive at its last read */
                return a->pid == b->pid && a->error == 0;
        return a->usage_file && b->usage_file && strcmp(a->usage_file, b->usage_file) == 0;
}

int mttd_source_read(mttd_source *src)
{
        int r;
        if (src->scope == MTTD_SCOPE_PROCESS) {
                /* The pidfd is readable once the root has exited: its pid may be anyone's. */
                struct pollfd p = {.fd = src->pidfd, .events = POLLIN};
                int64_t kb;
                r = src->pidfd >= 0 && poll(&p, 1, 0) > 0
                        ? -ESRCH
                        : mttd_proctree_kb(&src->tree, src->pid, &kb, &src->processes);
                if (r == 0 || r == -ESRCH) /* a tree whose root is gone holds nothing */
                        src->kb = r == 0 ? kb : 0;
        } else {
                int64_t bytes, peak;
                r = read_bytes(src->usage_file, &bytes);
                if (r == 0)
                        src->kb = bytes / 1024;
                /* The kernel's peak (not every kernel keeps one: memory.peak came in Linux
                 * 5.19) rose since the last read above what is used now: a spike between two
                 * reads, which the sessions get as this read's value, so a peak row keeps it. */
                if (r == 0 && src->peak_file && read_bytes(src->peak_file, &peak) == 0) {
                        int64_t peak_kb = peak / 1024;
                        if (src->peak_kb >= 0 && peak_kb > src->peak_kb && peak_kb > src->kb)
                                src->kb = peak_kb;
                        src->peak_kb = peak_kb;
                }
        }
        src->error = r;
        return r;
}

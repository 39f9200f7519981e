/* Process trees through /proc/PID/task/TID/children. */
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A tree larger than this is cut (a pid reused inside the walk cannot loop it forever). */
#define MAX_PROCESSES 65536

static ssize_t read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int err = errno;
        close(fd);
        if (n < 0)
                return -err;
        buf[n] = '\0';
        return n;
}

/* One process's memory in kB, or -1 when it is gone. */
static int64_t process_kb(pid_t pid)
{
        char path[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
        if (read_file(path, buf, sizeof(buf)) > 0) {
                const char *pss = strstr(buf, "\nPss:");
                long long kb;
                if (pss && sscanf(pss + 5, "%lld", &kb) == 1)
                        return kb;
        }
        snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
        long long size, resident;
        if (read_file(path, buf, sizeof(buf)) <= 0 ||
            sscanf(buf, "%lld %lld", &size, &resident) != 2)
                return -1;
        return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int push(mttd_proctree *t, size_t *n, pid_t pid)
{
        if (*n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 64;
                pid_t *p = realloc(t->pids, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                t->pids = p;
                t->cap = cap;
        }
        t->pids[(*n)++] = pid;
        return 0;
}

/* The children of every thread of pid onto the stack. */
static void push_children(mttd_proctree *t, size_t *n, pid_t pid)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char file[sizeof(path) + sizeof(e->d_name) + 16];
                snprintf(file, sizeof(file), "%s/%s/children", path, e->d_name);
                if (read_file(file, buf, sizeof(buf)) <= 0)
                        continue;
                char *p = buf, *end;
                for (long c = strtol(p, &end, 10); end != p; c = strtol(p, &end, 10)) {
                        if (push(t, n, (pid_t)c) < 0)
                                break;
                        p = end;
                }
        }
        closedir(d);
}

int mttd_proctree_kb(mttd_proctree *t, pid_t root, int64_t *kb, unsigned *n_out)
{
        size_t n = 0;
        unsigned seen = 0;
        int64_t sum = 0;
        if (push(t, &n, root) < 0)
                return -ENOMEM;
        while (n > 0 && seen < MAX_PROCESSES) {
                pid_t pid = t->pids[--n];
                int64_t k = process_kb(pid);
                if (k < 0) {
                        if (pid == root)
                                return -ESRCH;
                        continue; /* it left during the walk */
                }
                sum += k;
                seen++;
                push_children(t, &n, pid);
        }
        *kb = sum;
        *n_out = seen;
        return 0;
}

void mttd_proctree_free(mttd_proctree *t)
{
        free(t->pids);
        *t = (mttd_proctree){0};
}

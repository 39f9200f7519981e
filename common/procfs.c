/* Readers of /proc and the cgroup file systems, and the parsers of what they read. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- files ---- */

/* Reads fd on into buf from *len, until its end (0) or until buf holds size - 1 bytes (1).
 * A proc file may come in pieces (one per record): one read is not the whole file. */
static int fill(int fd, char *buf, size_t size, size_t *len)
{
        while (*len < size - 1) {
                ssize_t n = read(fd, buf + *len, size - 1 - *len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                *len += (size_t)n;
        }
        return 1;
}

/* fd whole into buf (size > 0), NUL-terminated; -EFBIG when more than size - 1 bytes. */
static int read_fd(int fd, char *buf, size_t size)
{
        size_t len = 0;
        int r = fill(fd, buf, size, &len);
        buf[len] = '\0';
        if (r == 1) {
                char c;
                ssize_t n;
                while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {
                }
                r = n > 0 ? -EFBIG : n < 0 ? -errno : 0;
        }
        return r;
}

int mtt_procfs_read(const char *path, char *buf, size_t size)
{
        if (size == 0)
                return -EINVAL;
        buf[0] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = read_fd(fd, buf, size);
        close(fd);
        return r;
}

int mtt_procfs_read_alloc(const char *path, char **out, size_t *len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t size = 4096, have = 0;
        char *buf = NULL;
        int r;
        do {
                char *p = realloc(buf, size);
                if (!p) {
                        r = -ENOMEM;
                        break;
                }
                buf = p;
                r = fill(fd, buf, size, &have);
                size *= 2;
        } while (r == 1);
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[have] = '\0';
        *out = buf;
        if (len)
                *len = have;
        return 0;
}

/* The decimal number at p, after blanks ("4096 kB": what follows it is not looked at). */
static int parse_number(const char *p, long long *out)
{
        while (*p == ' ' || *p == '\t')
                p++;
        if (!(*p >= '0' && *p <= '9') && !(*p == '-' && p[1] >= '0' && p[1] <= '9'))
                return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno)
                return -errno;
        *out = v;
        return 0;
}

int mtt_procfs_value(const char *text, const char *key, long long *out)
{
        size_t n = strlen(key);
        for (const char *line = text; *line;) {
                if (strncmp(line, key, n) == 0 && (line[n] == ' ' || line[n] == '\t'))
                        return parse_number(line + n, out);
                const char *nl = strchr(line, '\n');
                if (!nl)
                        break;
                line = nl + 1;
        }
        return -ENODATA;
}

int mtt_procfs_read_value(const char *path, const char *key, long long *out)
{
        char *text;
        /* Whole, of any length: vmstat grows with every kernel. */
        int r = mtt_procfs_read_alloc(path, &text, NULL);
        if (r < 0)
                return r;
        r = mtt_procfs_value(text, key, out);
        free(text);
        return r;
}

int mtt_procfs_read_number(const char *path, long long *out)
{
        /* One read: a number file comes whole in it, and the cgroup scope reads this at every
         * tick on the loop (a second read only to see the end would double its cost). */
        char buf[64];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR) {
        }
        int err = n < 0 ? -errno : 0;
        close(fd);
        if (err < 0)
                return err;
        buf[n] = '\0';
        return parse_number(buf, out);
}

/* ---- processes ---- */

int mtt_procfs_stat_parse(const char *text, mtt_procfs_stat *out)
{
        const char *rest = strrchr(text, ')');
        if (!rest || rest[1] != ' ' || !rest[2] || rest[2] == ' ' || rest[2] == '\n')
                return -EINVAL;
        mtt_procfs_stat s = {.state = rest[2]};
        /* Fields from 3 (the state) on; exit_code is field 52. */
        const char *tok = rest + 2;
        for (int field = 3; field < 52 && tok; field++) {
                tok = strchr(tok, ' ');
                if (tok)
                        tok++;
        }
        long long v;
        if (tok && parse_number(tok, &v) == 0 && v >= INT_MIN && v <= INT_MAX) {
                s.have_exit_code = true;
                s.exit_code = (int)v;
        }
        *out = s;
        return 0;
}

int mtt_procfs_zombie_status(const char *proc, pid_t pid, uid_t reader, int *status)
{
        char path[PATH_MAX], text[1024];
        if (snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -ESRCH;
        /* The file's owner is the process's: the kernel shows the exit code to it and to
         * root alone. */
        struct stat st;
        bool mine = fstat(fd, &st) == 0 && (reader == 0 || st.st_uid == reader);
        int r = read_fd(fd, text, sizeof(text));
        close(fd);
        mtt_procfs_stat s;
        if ((r < 0 && r != -EFBIG) || mtt_procfs_stat_parse(text, &s) < 0)
                return -ESRCH;
        /* Being reaped: PIDFD_GET_INFO has its status a moment later. */
        if (s.state == 'X')
                return -EAGAIN;
        if (s.state != 'Z')
                return -ESRCH; /* reaped, and the pid taken again */
        if (!mine)
                return -EAGAIN; /* the kernel shows 0: PIDFD_GET_INFO answers once reaped */
        if (!s.have_exit_code)
                return -ESRCH;
        *status = s.exit_code;
        return 0;
}

int mtt_procfs_ruid_of(const char *proc, pid_t pid, uid_t *out)
{
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%d/status", proc, (int)pid) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        long long v;
        int r = mtt_procfs_read_value(path, "Uid:", &v); /* real, effective, saved, fs */
        if (r < 0)
                return r;
        if (v < 0 || v >= (long long)(uid_t)-1)
                return -EINVAL;
        *out = (uid_t)v;
        return 0;
}

int mtt_procfs_pidfd_pid(const char *proc, int pidfd, pid_t *out)
{
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/self/fdinfo/%d", proc, pidfd) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        long long v;
        int r = mtt_procfs_read_value(path, "Pid:", &v);
        if (r < 0)
                return r;
        /* -1 once the process has ended (Linux 5.13), 0 in another pid namespace. */
        if (v <= 0 || v > INT_MAX)
                return -ESRCH;
        *out = (pid_t)v;
        return 0;
}

/* ---- mounts ---- */

int mtt_procfs_mountinfo_type(const char *text, uint64_t mnt_id, dev_t dev, char *type, size_t size)
{
        bool found = false, by_dev = false;
        /* The mount itself; else (a mount of another namespace: mttd's own, under
         * PrivateMounts=, has copies of the host's mounts with ids of their own) one of the
         * same file system, found by its device number, which the copies share. */
        for (const char *line = text; *line && !found;) {
                const char *eol = strchrnul(line, '\n');
                const char *next = *eol ? eol + 1 : eol;
                unsigned long long id;
                unsigned maj, min;
                /* "ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE OPTIONS":
                 * spaces in names are escaped, so " - " only ends the tags. */
                const char *sep = memmem(line, (size_t)(eol - line), " - ", 3);
                char t[64];
                if (!sep || sscanf(line, "%llu %*u %u:%u", &id, &maj, &min) != 3 ||
                    (id != mnt_id && (by_dev || makedev(maj, min) != dev)) ||
                    sscanf(sep + 3, "%63s", t) != 1 || strlen(t) >= size) {
                        line = next;
                        continue;
                }
                strcpy(type, t);
                found = id == mnt_id;
                by_dev = true;
                line = next;
        }
        return found || by_dev ? 0 : -ENOENT;
}

int mtt_procfs_mount_type(const char *proc, uint64_t mnt_id, dev_t dev, char *type, size_t size)
{
        char path[PATH_MAX], *text;
        if (snprintf(path, sizeof(path), "%s/self/mountinfo", proc) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        int r = mtt_procfs_read_alloc(path, &text, NULL);
        if (r < 0)
                return r;
        r = mtt_procfs_mountinfo_type(text, mnt_id, dev, type, size);
        free(text);
        return r;
}

int mtt_procfs_mounts_open(const char *proc)
{
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/self/mounts", proc) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* ---- memory cgroups ---- */

int mtt_procfs_cgroup_parse(const char *text, char *out, size_t size, bool *v1)
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
        if (!path)
                return -ENOENT;
        if (len >= size)
                return -ENAMETOOLONG;
        memcpy(out, path, len);
        out[len] = '\0';
        *v1 = memory != NULL;
        return 0;
}

int mtt_procfs_cgroup_dir(const char *proc, const char *cgroup_root, pid_t pid, char *out,
                          size_t size, bool *v1)
{
        char file[PATH_MAX], *text, cg[4096];
        if (snprintf(file, sizeof(file), "%s/%d/cgroup", proc, (int)pid) >= (int)sizeof(file))
                return -ENAMETOOLONG;
        int r = mtt_procfs_read_alloc(file, &text, NULL);
        if (r < 0)
                return r;
        bool is_v1;
        r = mtt_procfs_cgroup_parse(text, cg, sizeof(cg), &is_v1);
        free(text);
        if (r < 0)
                return r;
        if (snprintf(out, size, "%s%s%s", cgroup_root, is_v1 ? "/memory" : "", cg) >= (int)size)
                return -ENAMETOOLONG;
        *v1 = is_v1;
        return 0;
}

/* The oom_kill count in a cgroup's file, or -errno. */
static long long cgroup_count(const char *file)
{
        long long v;
        int r = file[0] ? mtt_procfs_read_value(file, "oom_kill", &v) : -ENOENT;
        return r < 0 ? r : v;
}

int mtt_procfs_oom_counts_of(const char *proc, const char *cgroup_root, pid_t pid,
                             mtt_procfs_oom_counts *out)
{
        char dir[sizeof(out->cgroup_file)];
        bool v1;
        out->cgroup_file[0] = '\0';
        out->system = -ENODATA;
        int r = mtt_procfs_cgroup_dir(proc, cgroup_root, pid, dir, sizeof(dir), &v1);
        if (r == 0 && snprintf(out->cgroup_file, sizeof(out->cgroup_file), "%s/%s", dir,
                               v1 ? "memory.oom_control" : "memory.events") >=
                          (int)sizeof(out->cgroup_file)) {
                out->cgroup_file[0] = '\0';
                r = -ENAMETOOLONG;
        }
        out->cgroup = r < 0 ? r : cgroup_count(out->cgroup_file);
        return out->cgroup < 0 ? (int)out->cgroup : 0;
}

long long mtt_procfs_oom_system(const char *proc)
{
        char path[PATH_MAX];
        long long v;
        if (snprintf(path, sizeof(path), "%s/vmstat", proc) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        int r = mtt_procfs_read_value(path, "oom_kill", &v);
        return r < 0 ? r : v;
}

int mtt_procfs_oom_counts_again(const char *proc, const mtt_procfs_oom_counts *before,
                                mtt_procfs_oom_counts *now)
{
        if (now != before)
                memcpy(now->cgroup_file, before->cgroup_file, sizeof(now->cgroup_file));
        now->cgroup = cgroup_count(now->cgroup_file);
        now->system = mtt_procfs_oom_system(proc);
        if (now->cgroup < 0)
                return (int)now->cgroup;
        return now->system < 0 ? (int)now->system : 0;
}

bool mtt_procfs_oom_killed(const mtt_procfs_oom_counts *before, const mtt_procfs_oom_counts *now)
{
        return (before->cgroup >= 0 && now->cgroup > before->cgroup) ||
               (before->system >= 0 && now->system > before->system);
}

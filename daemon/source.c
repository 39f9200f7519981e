/* Process-tree and cgroup sources. */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/procfs.h"
#include "proto/interface.h"
#include "target.h"

_Static_assert(MTTD_SCOPE_LAST + 1 == MTT_PROTO_SCOPES, "a name for every scope");

const char *mttd_scope_name(mttd_scope s)
{
        return mtt_proto_scope_names[s];
}

bool mttd_scope_has_process(mttd_scope s)
{
        return s == MTTD_SCOPE_PROCESS || s == MTTD_SCOPE_CGROUP || s == MTTD_SCOPE_GPU;
}

bool mttd_scope_is_gpu(mttd_scope s)
{
        return s == MTTD_SCOPE_GPU || s == MTTD_SCOPE_GPU_DEVICE;
}

bool mttd_scope_read_off_loop(mttd_scope s)
{
        return s == MTTD_SCOPE_PROCESS || mttd_scope_is_gpu(s);
}

int mttd_scope_of(const char *name, mttd_scope *out)
{
        int s = mtt_proto_scope_of(name);
        if (s < 0)
                return s;
        *out = (mttd_scope)s;
        return 0;
}

/* A number file of the cgroup file system, in bytes. */
static int read_bytes(const char *path, int64_t *out)
{
        long long v;
        int r = mtt_procfs_read_number(path, &v);
        if (r < 0)
                return r;
        *out = v;
        return 0;
}

static char *join(const char *dir, const char *file)
{
        char *p;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

int mttd_source_new(mttd_scope scope, pid_t pid, int pidfd, int gpu, uid_t uid, mttd_source **out)
{
        mttd_source *src = calloc(1, sizeof(*src));
        if (!src) {
                if (pidfd >= 0)
                        close(pidfd);
                return -ENOMEM;
        }
        src->scope = scope;
        src->pid = pid;
        src->pidfd = pidfd;
        src->gpu = gpu;
        src->uid = uid;
        src->peak_kb = -1;
        src->read_tick = UINT64_MAX;
        if (scope == MTTD_SCOPE_CGROUP) {
                char dir[4200];
                bool v1;
                int r = mtt_procfs_cgroup_dir(MTT_PROCFS_ROOT, MTT_PROCFS_CGROUP_ROOT, pid, dir,
                                              sizeof(dir), &v1);
                if (r < 0) {
                        r = -ENOENT;
                } else {
                        src->usage_file =
                            join(dir, v1 ? "memory.usage_in_bytes" : "memory.current");
                        src->peak_file =
                            join(dir, v1 ? "memory.max_usage_in_bytes" : "memory.peak");
                        int64_t b;
                        r = !src->usage_file ? -ENOMEM : read_bytes(src->usage_file, &b);
                        if (r < 0 && r != -ENOMEM)
                                r = -ENOENT;
                }
                /* The cgroup read is pid's only if pid still is the process of the pidfd. */
                if (r == 0 && pidfd >= 0 && mttd_pidfd_ended(pidfd))
                        r = -ESRCH;
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
        free(src);
}

bool mttd_source_same(const mttd_source *a, const mttd_source *b)
{
        if (a->scope != b->scope || a->uid != b->uid)
                return false;
        if (a->scope == MTTD_SCOPE_PROCESS || a->scope == MTTD_SCOPE_GPU)
                return a->pid == b->pid && !(a->pidfd >= 0 && mttd_pidfd_ended(a->pidfd));
        if (a->scope == MTTD_SCOPE_GPU_DEVICE)
                return a->gpu == b->gpu;
        return a->usage_file && b->usage_file && strcmp(a->usage_file, b->usage_file) == 0;
}

bool mttd_source_ready(const mttd_source *src)
{
        return !mttd_scope_read_off_loop(src->scope) ||
               (src->have_value && !src->late_since_us && !src->gpu_unread);
}

int mttd_source_read(mttd_source *src)
{
        int64_t bytes, peak;
        int r = read_bytes(src->usage_file, &bytes);
        if (r == 0)
                src->kb = bytes / 1024;
        /* The kernel's peak (not every kernel keeps one: memory.peak came in Linux 5.19) rose
         * since the last read above what is used now: a spike between two reads, which the
         * sessions get as this read's value, so a peak row keeps it. */
        if (r == 0 && src->peak_file && read_bytes(src->peak_file, &peak) == 0) {
                int64_t peak_kb = peak / 1024;
                if (src->peak_kb >= 0 && peak_kb > src->peak_kb && peak_kb > src->kb)
                        src->kb = peak_kb;
                src->peak_kb = peak_kb;
        }
        src->error = r;
        return r;
}

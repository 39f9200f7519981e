/* Process trees through /proc. */
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/procfs.h"
#include "target.h"

typedef struct mttd_tree_member {
        pid_t pid;
        int32_t parent; /* -1: the top of a tree */
        int64_t pss_kb; /* at the last full read */
        int64_t rss_kb; /* at the last full read */
        int64_t est_kb; /* now: pss_kb moved by the RSS since */
        int64_t sum_kb; /* est_kb of the whole subtree */
        unsigned count; /* processes alive in the subtree */
        int statm_fd;   /* kept open for fast reads (the first KEEP_FDS members), or -1 */
        bool gone;
} member;

/* Members whose statm stays open between full reads: a pread is a third of an open, a read
 * and a close; beyond this many, fast reads open the file each time (fds stay bounded). */
#define KEEP_FDS 256

/* Closes the fds of the last full read's members. */
static void forget(mttd_forest *f)
{
        for (size_t i = 0; i < f->n; i++)
                if (f->m[i].statm_fd >= 0)
                        close(f->m[i].statm_fd);
        f->n = 0;
}

void mttd_forest_init(mttd_forest *f, uid_t uid, const char *proc, unsigned budget)
{
        *f = (mttd_forest){.uid = uid, .proc = proc, .budget = budget ? budget : 1};
        f->page_kb = sysconf(_SC_PAGESIZE) / 1024;
}

void mttd_forest_free(mttd_forest *f)
{
        forget(f);
        free(f->m);
        free(f->order);
        free(f->depth);
        free(f->scratch);
        free(f->hash);
        free(f->root_member);
        *f = (mttd_forest){0};
}

static ssize_t read_fd(int fd, char *buf, size_t size)
{
        ssize_t n = read(fd, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
        return n;
}

/* A member's RSS in kB, or -ESRCH when the process is gone (an fd kept open follows the
 * process it was opened for, never a pid reused since). statm takes no lock another
 * process holds. With keep, the fd is kept for the fast reads. */
static int64_t rss_kb(const mttd_forest *f, member *m, bool keep)
{
        char path[96], buf[256];
        long long size, resident;
        ssize_t n;
        if (m->statm_fd >= 0) {
                n = pread(m->statm_fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
        } else {
                snprintf(path, sizeof(path), "%s/%d/statm", f->proc, (int)m->pid);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                n = fd < 0 ? -1 : read_fd(fd, buf, sizeof(buf));
                if (fd >= 0 && keep && n > 0)
                        m->statm_fd = fd;
                else if (fd >= 0)
                        close(fd);
        }
        if (n <= 0 || sscanf(buf, "%lld %lld", &size, &resident) != 2)
                return -ESRCH;
        return resident * f->page_kb;
}

/* Pss in kB of a process of the forest's user, else -errno (its RSS counts then). The owner
 * is the /proc/PID directory's, the process's effective uid (root when it is not dumpable),
 * checked before smaps_rollup is opened: another user's process is never read this way, so
 * no other user can hold a forest's read with its memory map lock, root's forest included. */
static int64_t pss_kb(const mttd_forest *f, pid_t pid)
{
        char path[96];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%d", f->proc, (int)pid);
        if (stat(path, &st) < 0)
                return -errno;
        if (st.st_uid != f->uid)
                return -EPERM;
        snprintf(path, sizeof(path), "%s/%d/smaps_rollup", f->proc, (int)pid);
        long long kb;
        int r = mtt_procfs_read_value(path, "Pss:", &kb);
        return r < 0 ? r : kb;
}

static size_t hash_slot(const mttd_forest *f, pid_t pid)
{
        return ((size_t)pid * 2654435761u) & (f->hash_cap - 1);
}

static int32_t lookup(const mttd_forest *f, pid_t pid)
{
        for (size_t i = hash_slot(f, pid);; i = (i + 1) & (f->hash_cap - 1))
                if (f->hash[i] < 0 || f->m[f->hash[i]].pid == pid)
                        return f->hash[i];
}

/* Room for more members, up to the budget: the arrays double (a small tree costs a small
 * forest), and the index is made again for the members there are. */
static int grow(mttd_forest *f)
{
        size_t want = f->cap ? f->cap * 2 : 64;
        if (want > f->budget)
                want = f->budget;
        if (want <= f->cap)
                return -ENOSPC;
        size_t hcap = 16;
        while (hcap < 2 * want)
                hcap *= 2;
        member *m = realloc(f->m, want * sizeof(*m));
        if (m)
                f->m = m;
        int32_t *order = m ? realloc(f->order, want * sizeof(*order)) : NULL;
        if (order)
                f->order = order;
        int32_t *depth = order ? realloc(f->depth, want * sizeof(*depth)) : NULL;
        if (depth)
                f->depth = depth;
        int32_t *scratch = depth ? realloc(f->scratch, want * sizeof(*scratch)) : NULL;
        if (scratch)
                f->scratch = scratch;
        int32_t *hash = scratch ? malloc(hcap * sizeof(*hash)) : NULL;
        if (!hash)
                return -ENOMEM;
        free(f->hash);
        f->hash = hash;
        f->hash_cap = hcap;
        f->cap = want;
        memset(f->hash, 0xff, hcap * sizeof(*hash));
        for (size_t i = 0; i < f->n; i++) {
                size_t k = hash_slot(f, f->m[i].pid);
                while (f->hash[k] >= 0)
                        k = (k + 1) & (f->hash_cap - 1);
                f->hash[k] = (int32_t)i;
        }
        return 0;
}

/* Whether one more member fits (within the budget, and memory). */
static bool room(mttd_forest *f)
{
        return f->n < f->cap || grow(f) == 0;
}

static int32_t add(mttd_forest *f, pid_t pid, int32_t parent)
{
        int32_t i = (int32_t)f->n++;
        f->m[i] = (member){.pid = pid, .parent = parent, .statm_fd = -1};
        size_t k = hash_slot(f, pid);
        while (f->hash[k] >= 0)
                k = (k + 1) & (f->hash_cap - 1);
        f->hash[k] = i;
        return i;
}

/* A child pid found under member i: a new member (within the budget, else *cut), or a tree
 * walked before as its own (a root below this one), which joins. */
static void child(mttd_forest *f, int32_t i, pid_t c, bool *cut)
{
        int32_t k = lookup(f, c);
        if (k >= 0) {
                if (f->m[k].parent < 0 && k != i && f->m[i].parent != k)
                        f->m[k].parent = i;
                return;
        }
        if (!room(f)) {
                *cut = true;
                return;
        }
        add(f, c, i);
}

/* One thread's children file, read to its end in pieces ("PID PID ... "): a number is taken
 * once the separator after it is read, so a piece never cuts one in two. */
static void children_file(mttd_forest *f, int32_t i, const char *file, bool *cut)
{
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        char buf[4096];
        size_t have = 0;
        for (;;) {
                ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
                if (n <= 0)
                        break;
                have += (size_t)n;
                buf[have] = '\0';
                char *p = buf, *end;
                for (long c = strtol(p, &end, 10); end != p && *end; c = strtol(p, &end, 10)) {
                        child(f, i, (pid_t)c, cut);
                        p = end;
                }
                have = strlen(p); /* the unfinished number, kept for the next piece */
                memmove(buf, p, have);
                if (have == sizeof(buf) - 1)
                        break; /* no number is that long */
        }
        close(fd);
}

/* The children of every thread of member i. */
static void children_of(mttd_forest *f, int32_t i, bool *cut)
{
        char path[96];
        snprintf(path, sizeof(path), "%s/%d/task", f->proc, (int)f->m[i].pid);
        DIR *d = opendir(path);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char file[sizeof(path) + sizeof(e->d_name) + 16];
                snprintf(file, sizeof(file), "%s/%s/children", path, e->d_name);
                children_file(f, i, file, cut);
        }
        closedir(d);
}

static bool ended(int pidfd)
{
        return pidfd >= 0 && mttd_pidfd_ended(pidfd);
}

/* An order with every member before its parent (deepest first), for the sums: depths from
 * the parent links (a tree joined below another makes links that point either way), then a
 * counting sort. */
static void make_order(mttd_forest *f)
{
        int32_t n = (int32_t)f->n, *depth = f->depth, *chain = f->scratch, maxd = 0;
        for (int32_t i = 0; i < n; i++)
                depth[i] = -1;
        for (int32_t i = 0; i < n; i++) {
                int32_t k = 0, j = i;
                while (j >= 0 && depth[j] < 0 && k < n) { /* k < n: no loop runs forever */
                        chain[k++] = j;
                        j = f->m[j].parent;
                }
                int32_t d = j >= 0 && depth[j] >= 0 ? depth[j] + 1 : 0;
                while (k > 0)
                        depth[chain[--k]] = d++;
                if (d - 1 > maxd)
                        maxd = d - 1;
        }
        /* chain counts members per depth, from the deepest. */
        memset(chain, 0, sizeof(*chain) * (size_t)n);
        if (maxd >= n)
                maxd = n - 1;
        for (int32_t i = 0; i < n; i++)
                chain[maxd - (depth[i] < maxd ? depth[i] : maxd)]++;
        for (int32_t d = 0, at = 0; d <= maxd && d < n; d++) {
                int32_t c = chain[d];
                chain[d] = at;
                at += c;
        }
        for (int32_t i = 0; i < n; i++)
                f->order[chain[maxd - (depth[i] < maxd ? depth[i] : maxd)]++] = i;
}

/* Subtree sums in children-first order. */
static void sum_up(mttd_forest *f)
{
        for (size_t i = 0; i < f->n; i++) {
                member *m = &f->m[i];
                m->sum_kb = m->gone ? 0 : m->est_kb;
                m->count = !m->gone;
        }
        for (size_t k = 0; k < f->n; k++) {
                member *m = &f->m[f->order[k]];
                if (m->parent >= 0) {
                        f->m[m->parent].sum_kb += m->sum_kb;
                        f->m[m->parent].count += m->count;
                }
        }
}

static void results(mttd_forest *f, mttd_tree_root *roots, size_t n)
{
        for (size_t r = 0; r < n && r < f->n_roots; r++) {
                int32_t i = f->root_member[r];
                if (roots[r].error == -ESRCH || i < 0)
                        continue;
                if (f->m[i].gone || ended(roots[r].pidfd)) {
                        roots[r].error = -ESRCH; /* a tree whose root is gone holds nothing */
                        roots[r].kb = 0;
                        continue;
                }
                roots[r].kb = f->m[i].sum_kb;
                roots[r].processes = f->m[i].count;
        }
}

void mttd_forest_full(mttd_forest *f, mttd_tree_root *roots, size_t n)
{
        forget(f);
        f->n_roots = 0;
        int32_t *rm = realloc(f->root_member, (n ? n : 1) * sizeof(*rm));
        if (!rm || (f->cap == 0 && grow(f) < 0)) {
                for (size_t r = 0; r < n; r++)
                        roots[r].error = -EAGAIN;
                if (rm)
                        f->root_member = rm;
                return;
        }
        f->root_member = rm;
        f->n_roots = n;
        memset(f->hash, 0xff, f->hash_cap * sizeof(*f->hash));
        size_t first = n ? f->rotate++ % n : 0;
        for (size_t k = 0; k < n; k++) {
                size_t r = (first + k) % n;
                mttd_tree_root *root = &roots[r];
                *root = (mttd_tree_root){.pid = root->pid, .pidfd = root->pidfd};
                rm[r] = -1;
                if (ended(root->pidfd)) {
                        root->error = -ESRCH;
                        continue;
                }
                int32_t top = lookup(f, root->pid);
                if (top >= 0) { /* inside a tree read already */
                        rm[r] = top;
                        continue;
                }
                if (!room(f)) {
                        root->error = -EAGAIN;
                        continue;
                }
                rm[r] = top = add(f, root->pid, -1);
                /* Members are read in discovery order: each one's children become members
                 * after it, so the walk is a loop over the member array. */
                size_t from = (size_t)top;
                for (size_t i = from; i < f->n; i++) {
                        member *m = &f->m[i];
                        int64_t rss = rss_kb(f, m, i < KEEP_FDS);
                        if (rss < 0) {
                                m->gone = true;
                                continue;
                        }
                        int64_t pss = pss_kb(f, m->pid);
                        m->rss_kb = rss;
                        m->pss_kb = m->est_kb = pss >= 0 ? pss : rss;
                        children_of(f, (int32_t)i, &root->cut);
                }
        }
        make_order(f);
        sum_up(f);
        results(f, roots, n);
}

void mttd_forest_fast(mttd_forest *f, mttd_tree_root *roots, size_t n)
{
        for (size_t i = 0; i < f->n; i++) {
                member *m = &f->m[i];
                if (m->gone)
                        continue;
                int64_t rss = rss_kb(f, m, false);
                if (rss < 0) {
                        m->gone = true;
                        continue;
                }
                int64_t est = m->pss_kb + (rss - m->rss_kb);
                m->est_kb = est > 0 ? est : 0;
        }
        sum_up(f);
        /* A root the last full read did not reach (over the budget, or gone) is not read. */
        for (size_t r = 0; r < n; r++)
                roots[r].error = r < f->n_roots && f->root_member[r] >= 0 ? 0 : -EAGAIN;
        results(f, roots, n);
}

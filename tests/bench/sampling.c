/* mtt-bench's parts that run mttd's own code in this process: the meminfo read, a read of
 * each scope, the tick's spacing. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "bench.h"
#include "common/procfs.h"
#include "meminfo.h"
#include "proctree.h"
#include "source.h"
#include "ticker.h"

/* ---- the meminfo read ---- */

/* Median ns per operation over rounds, alternating the two loops so drift hits both. */
void bench_sample(const bench *b)
{
        const int rounds = 9, n = b->quick ? 2000 : 20000;
        double bare[9], ours[9];
        mttd_meminfo_reader r;
        if (mttd_meminfo_reader_open(&r, "/proc/meminfo") < 0) {
                row("sample: mttd reader vs bare pread", "cannot open /proc/meminfo", "", "");
                return;
        }
        char buf[16384];
        mttd_meminfo m;
        for (int k = 0; k < rounds; k++) {
                uint64_t t0 = now_ns();
                for (int i = 0; i < n; i++)
                        if (pread(r.fd, buf, sizeof(buf), 0) <= 0)
                                abort();
                uint64_t t1 = now_ns();
                for (int i = 0; i < n; i++)
                        if (mttd_meminfo_read(&r, &m) < 0)
                                abort();
                uint64_t t2 = now_ns();
                bare[k] = (double)(t1 - t0) / n;
                ours[k] = (double)(t2 - t1) / n;
        }
        mttd_meminfo_reader_close(&r);
        qsort(bare, rounds, sizeof(double), cmp_double);
        qsort(ours, rounds, sizeof(double), cmp_double);
        double ratio = ours[rounds / 2] / bare[rounds / 2];
        char v[64];
        snprintf(v, sizeof(v), "%.0f ns vs %.0f ns: %.3fx", ours[rounds / 2], bare[rounds / 2],
                 ratio);
        row("sample (pread + parse) vs bare pread", v, "<= 1.1x", ratio <= 1.1 ? "ok" : "MISS");
}

/* ---- what one read of each scope costs ---- */

/* Median us per read of a cgroup source over rounds. */
static double source_read_us(mttd_source *src, int n)
{
        double t[9];
        for (int k = 0; k < 9; k++) {
                uint64_t t0 = now_ns();
                for (int i = 0; i < n; i++)
                        mttd_source_read(src);
                t[k] = (double)(now_ns() - t0) / n / 1000;
        }
        qsort(t, 9, sizeof(double), cmp_double);
        return t[4];
}

/* A leader (returned) with n - 1 sleeping children, each with 1 MiB touched: a tree of n. */
pid_t spawn_tree(unsigned n)
{
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                return -1;
        pid_t leader = fork();
        if (leader == 0) {
                setpgid(0, 0); /* the tree is one process group: killed as one */
                for (unsigned i = 1; i < n; i++) {
                        if (fork() == 0) {
                                volatile char *p = malloc(1 << 20);
                                for (size_t off = 0; off < 1 << 20; off += 4096)
                                        p[off] = 1;
                                pause();
                                _exit(0);
                        }
                }
                (void)!write(ready[1], "x", 1);
                for (;;)
                        pause();
        }
        char c;
        (void)!read(ready[0], &c, 1);
        close(ready[0]);
        close(ready[1]);
        usleep(100000);
        return leader;
}

void kill_tree(pid_t leader)
{
        kill(-leader, SIGKILL);
        waitpid(leader, NULL, 0);
}

/* One full and one fast read of a tree (proctree.h), as the sampler's thread makes them. */
static void bench_tree_reads(unsigned n_procs, int rounds, double *full_us, double *fast_us)
{
        pid_t leader = spawn_tree(n_procs);
        mttd_forest f;
        mttd_forest_init(&f, 0, MTT_PROCFS_ROOT, 4096);
        mttd_tree_root root = {.pid = leader, .pidfd = -1};
        double full[9], fast[9];
        for (int k = 0; k < 9; k++) {
                uint64_t t0 = now_ns();
                for (int i = 0; i < rounds; i++)
                        mttd_forest_full(&f, &root, 1);
                full[k] = (double)(now_ns() - t0) / rounds / 1000;
                t0 = now_ns();
                for (int i = 0; i < rounds; i++)
                        mttd_forest_fast(&f, &root, 1);
                fast[k] = (double)(now_ns() - t0) / rounds / 1000;
        }
        qsort(full, 9, sizeof(double), cmp_double);
        qsort(fast, 9, sizeof(double), cmp_double);
        *full_us = full[4];
        *fast_us = fast[4];
        char what[96], v[96];
        snprintf(what, sizeof(what), "process scope, tree of %u: one full / fast read", n_procs);
        snprintf(v, sizeof(v), "%.0f us / %.0f us (%u processes)", full[4], fast[4],
                 root.processes);
        row(what, v, "reported", "");
        mttd_forest_free(&f);
        kill_tree(leader);
}

/* The process scope's reads (trees of 10 and 300 processes: one full read every 200 ms, a
 * fast one at the other 10 ms ticks) and the cgroup scope on our own memory cgroup. The
 * system scope is the meminfo sample above, shared by every session. */
void bench_scopes(const bench *b)
{
        static const unsigned sizes[] = {10, 300};
        char v[96];
        for (size_t i = 0; i < 2; i++) {
                double full, fast;
                bench_tree_reads(sizes[i], b->quick ? 5 : 30, &full, &fast);
                /* A second of reads: 5 full and 95 fast. */
                double share = (5 * full + 95 * fast) / 1e6 * 100;
                char what[96];
                snprintf(what, sizeof(what), "process scope, tree of %u: reads a second", sizes[i]);
                snprintf(v, sizeof(v), "%.2f%% of a core", share);
                row(what, v, sizes[i] == 10 ? "<= 0.5% of a core" : "reported",
                    sizes[i] == 10 ? (share <= 0.5 ? "ok" : "MISS") : "");
        }
        mttd_source *src;
        if (mttd_source_new(MTTD_SCOPE_CGROUP, getpid(), -1, -1, getuid(), &src) == 0) {
                snprintf(v, sizeof(v), "%.1f us a read",
                         source_read_us(src, b->quick ? 200 : 2000));
                row("cgroup scope: one read (usage and peak)", v, "reported", "");
                mttd_source_free(src);
        } else {
                row("cgroup scope: one read (usage and peak)", "no memory cgroup here", "", "");
        }
}

/* ---- the tick's spacing at 1 ms ---- */

typedef struct spacing {
        mttd_ticker ticker;
        struct ev_loop *loop;
        uint64_t next_us, last_us;
        double *err;  /* |spacing - 1 ms| of each tick after the first */
        double *late; /* how late each tick came */
        size_t n, want;
} spacing;

static uint64_t now_us(void)
{
        return now_ns() / 1000;
}

static void on_spacing_tick(void *ctx)
{
        spacing *s = ctx;
        uint64_t now = now_us();
        s->late[s->n] = (double)now - (double)s->next_us;
        s->err[s->n] = s->n ? fabs((double)(now - s->last_us) - 1000.0) : 0;
        s->last_us = now;
        if (++s->n == s->want) {
                ev_break(s->loop, EVBREAK_ALL);
                return;
        }
        s->next_us += 1000;
        mttd_ticker_arm(&s->ticker, s->next_us);
}

/* mttd's own tick mechanism (timerfd under libev), asked for a tick every 1 ms for 2 s. */
void bench_spacing(const bench *b)
{
        spacing s = {.want = 2000};
        s.err = calloc(s.want, sizeof(double));
        s.late = calloc(s.want, sizeof(double));
        s.loop = ev_loop_new(EVFLAG_AUTO);
        if (!s.err || !s.late || !s.loop ||
            mttd_ticker_init(&s.ticker, s.loop, on_spacing_tick, &s) < 0) {
                row("spacing at 1 ms", "cannot set up a timerfd", "", "");
                return;
        }
        s.next_us = now_us() + 1000;
        mttd_ticker_arm(&s.ticker, s.next_us);
        ev_run(s.loop, 0);
        mttd_ticker_done(&s.ticker);
        ev_loop_destroy(s.loop);
        /* The first tick has no spacing. */
        qsort(s.err + 1, s.n - 1, sizeof(double), cmp_double);
        qsort(s.late, s.n, sizeof(double), cmp_double);
        double p99 = quantile(s.err + 1, s.n - 1, 0.99);
        char v[96];
        snprintf(v, sizeof(v), "median %.0f us, p99 %.0f, max %.0f",
                 quantile(s.err + 1, s.n - 1, 0.5), p99, s.err[s.n - 1]);
        row("tick spacing error at 1 ms over 2 s", v, "p99 < 200 us", p99 < 200 ? "ok" : "MISS");
        snprintf(v, sizeof(v), "median %.0f us, p99 %.0f", quantile(s.late, s.n, 0.5),
                 quantile(s.late, s.n, 0.99));
        row("  lateness of the same ticks", v, "", "");
        free(s.err);
        free(s.late);
}

/* mtt-bench on a live mttd: one started on a private socket, plain or as under systemd (its
 * state kept in the stand-in store, store.h), and what it costs: Open + Close, sessions,
 * idle, a process-scope session. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "mtt/client.h"
#include "proto/connection.h"
#include "store.h"

/* The unit's LimitNOFILE=: a kept session holds two fds (its report, its state's memfd). */
#define UNIT_NOFILE 65536

extern char **environ;

/* mttd's environment: ours without NOTIFY_SOCKET, plus `notify` ("NOTIFY_SOCKET=...")
 * unless NULL. NULL when out of memory. */
static char **mttd_environment(char *notify)
{
        size_t n = 0;
        while (environ[n])
                n++;
        char **env = calloc(n + 2, sizeof(char *));
        if (!env)
                return NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
                        env[k++] = environ[i];
        if (notify)
                env[k++] = notify;
        env[k] = NULL;
        return env;
}

/* An mttd on a socket in a directory of its own. meminfo: what it reads instead of
 * /proc/meminfo (NULL: the real one); log_fd: where its log goes (-1: nowhere). With
 * b->keep, it runs as under systemd: $NOTIFY_SOCKET names a stand-in store (b->store) in
 * that directory, so it keeps every session's state there, and its fd limit is the
 * unit's. */
int start_mttd(bench *b, const char *meminfo, int log_fd)
{
        snprintf(b->dir, sizeof(b->dir), "/tmp/mtt-bench-XXXXXX");
        if (!mkdtemp(b->dir))
                return -errno;
        snprintf(b->socket, sizeof(b->socket), "%s/sock", b->dir);
        if (b->keep) {
                b->store = calloc(1, sizeof(*b->store));
                int r = b->store ? store_start(b->store, b->dir) : -ENOMEM;
                if (r < 0)
                        return r;
        }
        char notify[160];
        if (b->keep)
                snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", b->store->path);
        char **env = mttd_environment(b->keep ? notify : NULL);
        if (!env)
                return -ENOMEM;
        b->pid = fork();
        if (b->pid < 0) {
                int r = -errno;
                free(env);
                return r;
        }
        if (b->pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                dup2(log_fd >= 0 ? log_fd : null, 2);
                if (b->keep) {
                        struct rlimit rl = {UNIT_NOFILE, UNIT_NOFILE};
                        setrlimit(RLIMIT_NOFILE, &rl); /* as root; otherwise the bench's */
                }
                const char *args[] = {b->mttd, "--socket",  b->socket, "--max-sessions-per-uid",
                                      "20000", "--meminfo", meminfo,   NULL};
                if (!meminfo)
                        args[5] = NULL;
                execvpe(b->mttd, (char *const *)args, env);
                _exit(127);
        }
        free(env);
        for (int i = 0; i < 500; i++) {
                mtt_proto_conn c;
                if (mtt_proto_conn_open(&c, b->socket) == 0) {
                        mtt_proto_conn_close(&c);
                        return 0;
                }
                mtt_proto_conn_close(&c);
                if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
                        b->pid = -1;
                        return -ENOENT;
                }
                usleep(10000);
        }
        return -ETIMEDOUT;
}

void stop_mttd(bench *b)
{
        if (b->pid > 0) {
                kill(b->pid, SIGTERM);
                waitpid(b->pid, NULL, 0);
                b->pid = -1;
        }
        if (b->store)
                store_stop(b->store); /* mttd is gone: its last datagrams are in */
        unlink(b->socket);
        rmdir(b->dir);
}

/* " state kept" after what a row measures on an mttd that keeps its state. */
static const char *kept(const bench *b)
{
        return b->keep ? ", state kept" : "";
}

void bench_open_close(const bench *b)
{
        const size_t n = b->quick ? 200 : 2000;
        double *t = calloc(n, sizeof(double));
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        mtt_options o = {.socket_path = b->socket, .label = "bench"};
        char what[96];
        snprintf(what, sizeof(what), "Open + Close through libmtt-client%s", kept(b));
        store_counts c0, c1;
        if (b->store)
                store_counts_of(b->store, &c0);
        for (size_t i = 0; i < n; i++) {
                mtt_session *s;
                uint64_t t0 = now_ns();
                if (mtt_open_fd(null, &o, &s) < 0 || mtt_close(s, MTT_COMPLETED) < 0) {
                        row(what, "failed", "", "");
                        free(t);
                        close(null);
                        return;
                }
                t[i] = (double)(now_ns() - t0) / 1000.0;
        }
        close(null);
        qsort(t, n, sizeof(double), cmp_double);
        double median = quantile(t, n, 0.5);
        char v[160];
        snprintf(v, sizeof(v), "median %.0f us, p99 %.0f us", median, quantile(t, n, 0.99));
        row(what, v, "median < 1 ms", median < 1000 ? "ok" : "MISS");
        free(t);
        if (!b->store)
                return;
        /* The last connection's hangup (its "conn-N" removed) comes after its Close. */
        usleep(300000);
        store_counts_of(b->store, &c1);
        double k = (double)n;
        snprintf(v, sizeof(v), "%.2f FDSTORE (%.2f fds), %.2f FDSTOREREMOVE (%.2f of no fd stored)",
                 (double)(c1.stored - c0.stored) / k, (double)(c1.fds - c0.fds) / k,
                 (double)(c1.removed - c0.removed) / k, (double)(c1.unmatched - c0.unmatched) / k);
        row("  store traffic an Open + Close, state kept", v, "reported", "");
}

/* CPU seconds of every thread of a process (schedstat: nanoseconds, where /proc/PID/stat
 * counts 10 ms ticks) and its RSS. */
static bool proc_usage(pid_t pid, double *cpu_s, long *rss_kb)
{
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return false;
        unsigned long long total = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char p[320];
                snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
                FILE *f = fopen(p, "re");
                unsigned long long ns;
                if (f && fscanf(f, "%llu", &ns) == 1)
                        total += ns;
                if (f)
                        fclose(f);
        }
        closedir(d);
        *cpu_s = (double)total / 1e9;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        *rss_kb = 0;
        while (f && fgets(buf, sizeof(buf), f))
                if (sscanf(buf, "VmRSS: %ld kB", rss_kb) == 1)
                        break;
        if (f)
                fclose(f);
        return true;
}

static long long rows_written(const bench *b)
{
        mtt_proto_conn c;
        mtt_proto_reply r;
        long long rows = -1;
        if (mtt_proto_conn_open(&c, b->socket) == 0 &&
            mtt_proto_conn_call(&c, "io.mtt.Tracker.Sample", NULL, NULL, 0, 5000, &r) == 0) {
                rows = json_integer_value(
                    json_object_get(json_object_get(r.parameters, "stats"), "rows_written"));
                mtt_proto_reply_done(&r);
        }
        mtt_proto_conn_close(&c);
        return rows;
}

/* What the memfds of kept states hold (KiB of their pages): shmem, outside VmRSS. */
static double state_memfds_kb(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        double kb = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
                char p[320], target[128];
                snprintf(p, sizeof(p), "/proc/%d/fd/%s", (int)pid, e->d_name);
                ssize_t n = readlink(p, target, sizeof(target) - 1);
                if (n < 0)
                        continue;
                target[n] = '\0';
                struct stat st;
                if (strncmp(target, "/memfd:mtt-state", 16) != 0 || stat(p, &st) < 0)
                        continue;
                kb += (double)st.st_blocks * 512 / 1024;
        }
        if (d)
                closedir(d);
        return kb;
}

/* Opens n sessions over a few connections, spread over `spread_s` so their ages differ,
 * lets them settle, then measures mttd's CPU and RSS over `window_s` (and, with its state
 * kept, the memfds that hold it: shmem, not in its RSS). */
void bench_sessions(const bench *b, unsigned n, double spread_s, double settle_s, double window_s)
{
        enum { PER_CONN = 100 };
        unsigned n_conns = (n + PER_CONN - 1) / PER_CONN;
        mtt_proto_conn *conns = calloc(n_conns, sizeof(*conns));
        char what[64], v[256];
        snprintf(what, sizeof(what), "mttd with %u session%s%s", n, n == 1 ? "" : "s", kept(b));
        unsigned opened = 0;
        char refused[160] = ""; /* with its state kept, what stopped mttd short of n */
        for (unsigned c = 0; c < n_conns; c++)
                if (mtt_proto_conn_open(&conns[c], b->socket) < 0)
                        goto out;
        for (unsigned i = 0; i < n; i++) {
                /* A report file per session, as users have them (unlinked: nothing to clean). */
                char path[128];
                snprintf(path, sizeof(path), "%s/report-%u.csv", b->dir, i);
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                unlink(path);
                mtt_proto_reply r;
                json_t *p = json_pack("{s:i, s:s}", "fd", 0, "label", "bench");
                int rc = fd < 0 ? -errno
                                : mtt_proto_conn_call(&conns[i / PER_CONN], "io.mtt.Tracker.Open",
                                                      p, &fd, 1, 5000, &r);
                if (fd >= 0)
                        close(fd);
                if (rc < 0)
                        goto out;
                bool ok = !r.error;
                if (!ok && b->keep && opened > 0) {
                        /* Two fds a kept session: a hard fd limit below the unit's
                         * (LimitNOFILE=65536) that we may not raise holds mttd to fewer. The
                         * sessions it took are measured, and the row says so. */
                        struct rlimit rl = {0};
                        getrlimit(RLIMIT_NOFILE, &rl);
                        snprintf(refused, sizeof(refused), "; %u opened (%s; fd limit %llu)",
                                 opened, r.error, (unsigned long long)rl.rlim_max);
                }
                mtt_proto_reply_done(&r);
                if (refused[0])
                        break;
                if (!ok)
                        goto out;
                opened++;
                usleep((useconds_t)(spread_s * 1e6 / n));
        }
        usleep((useconds_t)(settle_s * 1e6));
        double cpu0, cpu1;
        long rss;
        long long rows0 = rows_written(b);
        uint64_t t0 = now_ns();
        proc_usage(b->pid, &cpu0, &rss);
        usleep((useconds_t)(window_s * 1e6));
        proc_usage(b->pid, &cpu1, &rss);
        double wall = (double)(now_ns() - t0) / 1e9;
        long long rows = rows_written(b) - rows0;
        double share = (cpu1 - cpu0) / wall * 100;
        int len = snprintf(v, sizeof(v), "%.2f%% CPU, %.1f us/row, RSS %.1f MiB", share,
                           rows > 0 ? (cpu1 - cpu0) / (double)rows * 1e6 : 0.0, (double)rss / 1024);
        if (b->store) {
                snprintf(v + len, sizeof(v) - (size_t)len, " + memfds %.1f MiB%s",
                         state_memfds_kb(b->pid) / 1024, refused);
        }
        row(what, v, n == 10000 ? "< 5% of a core" : "",
            n == 10000 ? (share < 5 ? "ok" : "MISS") : "");
out:
        if (opened < n && !refused[0]) {
                snprintf(v, sizeof(v), "only %u sessions opened", opened);
                row(what, v, "", "MISS");
        }
        for (unsigned c = 0; c < n_conns; c++)
                mtt_proto_conn_close(&conns[c]); /* their sessions end as crashed */
        free(conns);
        usleep(300000);
}

/* How many times the event loop's thread (the main one) was switched out: each wake-up of
 * the loop is one. */
static long long loop_switches(pid_t pid)
{
        char path[64], buf[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        long long total = 0, n;
        while (f && fgets(buf, sizeof(buf), f))
                if (sscanf(buf, "voluntary_ctxt_switches: %lld", &n) == 1 ||
                    sscanf(buf, "nonvoluntary_ctxt_switches: %lld", &n) == 1)
                        total += n;
        if (f)
                fclose(f);
        return total;
}

/* Idle, mttd wakes up for nothing (under systemd, for the watchdog alone): no sampling
 * without a session, no timer while no client is connected. */
void bench_idle(const bench *b, double window_s)
{
        double cpu0, cpu1;
        long rss;
        usleep(500000); /* what the last client left behind settles */
        uint64_t t0 = now_ns();
        proc_usage(b->pid, &cpu0, &rss);
        long long sw0 = loop_switches(b->pid);
        usleep((useconds_t)(window_s * 1e6));
        long long sw1 = loop_switches(b->pid);
        proc_usage(b->pid, &cpu1, &rss);
        double wall = (double)(now_ns() - t0) / 1e9;
        double share = (cpu1 - cpu0) / wall * 100, wakeups = (double)(sw1 - sw0) / wall;
        char v[64];
        snprintf(v, sizeof(v), "%.3f%% CPU, %.1f wake-ups/s, RSS %.1f MiB", share, wakeups,
                 (double)rss / 1024);
        row("idle mttd (no session)", v, "< 0.1%, no wake-up",
            share < 0.1 && sw1 == sw0 ? "ok" : "MISS");
}

/* A process-scope session on a tree of n, end to end: mttd's whole CPU (the tick, the
 * sampler's thread and its hand-offs, the rows), to set beside "mttd with 1 session". */
void bench_process_session(const bench *b, unsigned n, double window_s)
{
        pid_t leader = spawn_tree(n);
        mtt_proto_conn c;
        char what[96], v[96];
        snprintf(what, sizeof(what), "mttd with 1 process-scope session, tree of %u", n);
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        mtt_proto_reply r = {0};
        json_t *p = json_pack("{s:i, s:s, s:s, s:i}", "fd", 0, "label", "bench", "scope", "process",
                              "pid", (int)leader);
        int rc = mtt_proto_conn_open(&c, b->socket);
        if (rc == 0)
                rc = mtt_proto_conn_call(&c, "io.mtt.Tracker.Open", p, &fd, 1, 5000, &r);
        else
                json_decref(p);
        close(fd);
        if (rc < 0 || r.error) {
                row(what, "Open failed", "", "MISS");
        } else {
                usleep(1000000);
                double cpu0, cpu1;
                long rss;
                uint64_t t0 = now_ns();
                proc_usage(b->pid, &cpu0, &rss);
                usleep((useconds_t)(window_s * 1e6));
                proc_usage(b->pid, &cpu1, &rss);
                double wall = (double)(now_ns() - t0) / 1e9;
                snprintf(v, sizeof(v), "%.2f%% CPU", (cpu1 - cpu0) / wall * 100);
                row(what, v, "reported", "");
        }
        mtt_proto_reply_done(&r);
        mtt_proto_conn_close(&c); /* the session ends as crashed */
        kill_tree(leader);
        usleep(300000);
}

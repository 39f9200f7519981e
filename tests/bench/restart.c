/* mtt-bench's restart: SIGUSR2, and a new mttd takes the running sessions up. What it
 * leaves in the reports, in Status and in mttd's log. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "proto/connection.h"

/* A fake /proc/meminfo for mttd --meminfo whose level a thread raises every millisecond:
 * every row a session's schedule makes differs from the one before (none is compacted
 * away), so each report has rows at its schedule's every step. Numbers of fixed width,
 * rewritten in place: mttd keeps the file open and preads it, as it does /proc/meminfo. */
#define RAMP_TOTAL_KB (16LL * 1024 * 1024)
#define RAMP_LOW_KB   (1024LL * 1024)
#define RAMP_HIGH_KB  (12LL * 1024 * 1024)
#define RAMP_STEP_KB  64LL /* a millisecond: 64 MiB/s, nearly 3 min from low to high */

typedef struct ramp {
        char path[64];
        int fd;
        pthread_t thread;
        atomic_bool stop;
        bool started;
} ramp;

static int write_meminfo(int fd, long long used_kb)
{
        long long buffers = 1000, cached = 20000, slab = 30000;
        long long free_kb = RAMP_TOTAL_KB - used_kb - buffers - cached - slab;
        char text[512];
        int n = snprintf(text, sizeof(text),
                         "MemTotal:       %12lld kB\nMemFree:        %12lld kB\n"
                         "MemAvailable:   %12lld kB\nBuffers:        %12lld kB\n"
                         "Cached:         %12lld kB\nSwapCached:     %12d kB\n"
                         "Slab:           %12lld kB\n",
                         RAMP_TOTAL_KB, free_kb, free_kb, buffers, cached, 0, slab);
        return pwrite(fd, text, (size_t)n, 0) == n ? 0 : -1;
}

static void *ramp_main(void *arg)
{
        ramp *m = arg;
        long long used = RAMP_LOW_KB;
        while (!atomic_load(&m->stop)) {
                used = used + RAMP_STEP_KB > RAMP_HIGH_KB ? RAMP_LOW_KB : used + RAMP_STEP_KB;
                write_meminfo(m->fd, used);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
        }
        return NULL;
}

static int ramp_start(ramp *m)
{
        snprintf(m->path, sizeof(m->path), "/tmp/mtt-bench-meminfo-XXXXXX");
        m->fd = mkstemp(m->path);
        if (m->fd < 0)
                return -errno;
        if (write_meminfo(m->fd, RAMP_LOW_KB) < 0)
                return -EIO;
        int r = pthread_create(&m->thread, NULL, ramp_main, m);
        if (r != 0)
                return -r;
        m->started = true;
        return 0;
}

static void ramp_stop(ramp *m)
{
        if (m->started) {
                atomic_store(&m->stop, true);
                pthread_join(m->thread, NULL);
        }
        if (m->fd >= 0) {
                close(m->fd);
                unlink(m->path);
        }
}

/* The lines of mttd's log that mark a restart's steps, each timed as it comes through the
 * pipe of mttd's stderr. */
enum {
        MARK_HANDING,   /* the old mttd took the signal: it stops sampling */
        MARK_KEPT,      /* ... its writes are back and every state is in a memfd */
        MARK_EXEC,      /* ... it execs */
        MARK_TOOK,      /* the new one took every session up */
        MARK_LISTENING, /* ... and serves */
        MARKS
};
static const char *const mark_text[MARKS] = {"over to the next mttd", "kept for the next mttd",
                                             "re-executing", "from the previous mttd",
                                             "listening on"};

typedef struct log_watch {
        int fd; /* the read end of mttd's stderr */
        pthread_t thread;
        bool started;
        _Atomic uint64_t at[MARKS]; /* ns: when each mark's latest line came */
        atomic_uint seen[MARKS];
        atomic_uint took; /* the sessions the latest "took up" line counts */
} log_watch;

static void log_line(log_watch *w, const char *line, uint64_t t)
{
        for (int i = 0; i < MARKS; i++) {
                if (!strstr(line, mark_text[i]))
                        continue;
                unsigned n;
                const char *took = strstr(line, "took up ");
                if (i == MARK_TOOK && took && sscanf(took, "took up %u", &n) == 1)
                        atomic_store(&w->took, n);
                atomic_store(&w->at[i], t);
                atomic_fetch_add(&w->seen[i], 1);
        }
}

/* Reads the log until mttd (the last holder of the pipe's other end) exits. */
static void *log_main(void *arg)
{
        log_watch *w = arg;
        char buf[8192];
        size_t have = 0;
        for (;;) {
                ssize_t n = read(w->fd, buf + have, sizeof(buf) - 1 - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                uint64_t t = now_ns();
                have += (size_t)n;
                buf[have] = '\0';
                char *line = buf, *nl;
                while ((nl = strchr(line, '\n'))) {
                        *nl = '\0';
                        log_line(w, line, t);
                        line = nl + 1;
                }
                have -= (size_t)(line - buf);
                memmove(buf, line, have);
                if (have == sizeof(buf) - 1) /* a line longer than the buffer: skipped */
                        have = 0;
        }
        return NULL;
}

/* One session of the restart: when mttd opened it, and the rows around the gap. */
typedef struct restarted {
        char path[96];
        uint64_t id;
        uint64_t open_ns;   /* midway through its Open call: delta 0 within half a round trip */
        uint64_t last_old;  /* ns, on our clock: its last row before the restart ... */
        uint64_t first_new; /* ... and its first after it */
} restarted;

/* The report's rows as times on our clock (CLOCK_MONOTONIC, the clock of mttd's deltas). */
static size_t report_rows(const restarted *s, uint64_t **out)
{
        FILE *f = fopen(s->path, "re");
        size_t n = 0, cap = 0;
        uint64_t *t = NULL;
        char line[128];
        while (f && fgets(line, sizeof(line), f)) {
                double delta, ram;
                /* Data rows always carry a decimal point; the header and endings do not. */
                if (!strchr(line, '.') || sscanf(line, "%lf,%lf", &delta, &ram) != 2)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 256;
                        uint64_t *more = realloc(t, cap * sizeof(*t));
                        if (!more)
                                break;
                        t = more;
                }
                t[n++] = s->open_ns + (uint64_t)llround(delta * 1e9);
        }
        if (f)
                fclose(f);
        *out = t;
        return n;
}

/* The gap in one report: of the pairs of consecutive rows that span some of the restart
 * (from SIGUSR2 sent to the new mttd's "took up" line), the one furthest apart. False while
 * the report has no row after the restart yet. */
static bool report_gap(restarted *s, uint64_t sig_ns, uint64_t took_ns)
{
        uint64_t *t;
        size_t n = report_rows(s, &t);
        bool found = false;
        for (size_t i = 0; i + 1 < n; i++) {
                if (t[i] >= took_ns || t[i + 1] <= sig_ns)
                        continue;
                if (!found || t[i + 1] - t[i] > s->first_new - s->last_old) {
                        s->last_old = t[i];
                        s->first_new = t[i + 1];
                        found = true;
                }
        }
        /* The new mttd's first row is in the file once a row after its "took up" is. */
        found = found && t[n - 1] > took_ns;
        free(t);
        return found;
}

static double status_gap(mtt_proto_conn *c, uint64_t id)
{
        mtt_proto_reply r;
        double gap = -1;
        json_t *p = json_pack("{s:I}", "id", (json_int_t)id);
        if (mtt_proto_conn_call(c, "io.mtt.Tracker.Status", p, NULL, 0, 5000, &r) == 0) {
                json_t *s = json_object_get(r.parameters, "session");
                if (!r.error && json_integer_value(json_object_get(s, "restarts")) >= 1)
                        gap = json_number_value(json_object_get(s, "restart_gap"));
                mtt_proto_reply_done(&r);
        }
        return gap;
}

static double ms(uint64_t ns)
{
        return (double)ns / 1e6;
}

/* n system-scope sessions, each with a report in a temporary directory, on an mttd reading
 * a fake meminfo whose level rises all the time; 0.1 s after the last Open, SIGUSR2. The
 * gap is read from outside, in the reports: each report's hole (its last row before the
 * restart to its first after it), and the gap is the smallest of them. A hole holds the
 * restart plus what is left of a step of that session's schedule (t/20: 5 ms at 0.1 s old)
 * on either side, so the smallest is the old mttd's last row to the new one's first as soon
 * as one session made a row at both (with 1000 sessions many do); it is never below it, and
 * needs no clock shared between reports. Beside it: the restart_gap Status gives each
 * session, each report's hole, and how long the re-exec took by mttd's log. */
void bench_restart(const bench *opts, unsigned n)
{
        enum { PER_CONN = 100 };
        unsigned n_conns = (n + PER_CONN - 1) / PER_CONN;
        bench b = {.mttd = opts->mttd};
        ramp m = {.fd = -1};
        log_watch w = {.fd = -1};
        int logp[2] = {-1, -1};
        bool mttd_started = false;
        unsigned opened = 0;
        restarted *ss = calloc(n, sizeof(*ss));
        mtt_proto_conn *conns = calloc(n_conns, sizeof(*conns));
        double *hole = calloc(n, sizeof(double)), *said = calloc(n, sizeof(double));
        char what[64], v[128];
        const char *fail = NULL;
        snprintf(what, sizeof(what), "restart gap, %u session%s", n, n == 1 ? "" : "s");
        for (unsigned c = 0; conns && c < n_conns; c++)
                conns[c].fd = -1;
        if (!ss || !conns || !hole || !said) {
                fail = "out of memory";
                goto out;
        }
        if (ramp_start(&m) < 0) {
                fail = "cannot make a fake meminfo";
                goto out;
        }
        if (pipe2(logp, O_CLOEXEC) < 0) {
                fail = "no pipe for mttd's log";
                goto out;
        }
        int r = start_mttd(&b, m.path, logp[1]);
        mttd_started = true;
        close(logp[1]); /* mttd holds the only write end: its exit ends the log */
        logp[1] = -1;
        w.fd = logp[0];
        if (pthread_create(&w.thread, NULL, log_main, &w) == 0)
                w.started = true;
        if (r < 0 || !w.started) {
                fail = "cannot start mttd";
                goto out;
        }
        for (unsigned c = 0; c < n_conns; c++)
                if (mtt_proto_conn_open(&conns[c], b.socket) < 0) {
                        fail = "cannot connect";
                        goto out;
                }
        for (unsigned i = 0; i < n; i++) {
                restarted *s = &ss[i];
                snprintf(s->path, sizeof(s->path), "%s/report-%u.csv", b.dir, i);
                int fd = open(s->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        fail = "cannot make a report";
                        goto out;
                }
                mtt_proto_reply rep;
                json_t *p = json_pack("{s:i, s:s}", "fd", 0, "label", "bench-restart");
                uint64_t t0 = now_ns();
                r = mtt_proto_conn_call(&conns[i / PER_CONN], "io.mtt.Tracker.Open", p, &fd, 1,
                                        5000, &rep);
                uint64_t t1 = now_ns();
                close(fd);
                if (r < 0 || rep.error) {
                        if (r == 0)
                                mtt_proto_reply_done(&rep);
                        fail = "Open failed";
                        goto out;
                }
                s->id = (uint64_t)json_integer_value(
                    json_object_get(json_object_get(rep.parameters, "session"), "id"));
                s->open_ns = t0 + (t1 - t0) / 2;
                mtt_proto_reply_done(&rep);
                opened++;
        }
        usleep(100000);

        unsigned before = atomic_load(&w.seen[MARK_TOOK]);
        uint64_t sig_ns = now_ns();
        if (kill(b.pid, SIGUSR2) < 0) {
                fail = "cannot signal mttd";
                goto out;
        }
        for (int i = 0; i < 30000 && atomic_load(&w.seen[MARK_TOOK]) == before; i++) {
                if (waitpid(b.pid, NULL, WNOHANG) == b.pid) {
                        b.pid = -1;
                        break;
                }
                usleep(1000);
        }
        if (atomic_load(&w.seen[MARK_TOOK]) == before) {
                fail = b.pid < 0 ? "mttd exited at the restart" : "no \"took up\" in 30 s";
                goto out;
        }
        uint64_t took_ns = atomic_load(&w.at[MARK_TOOK]);
        unsigned took = atomic_load(&w.took);
        if (took != n) {
                snprintf(v, sizeof(v), "the new mttd took up %u of %u", took, n);
                row(what, v, "", "MISS");
                goto out;
        }

        /* Rows reach their files at most a flush interval (0.9 s) after they are made. */
        usleep(1000000);
        unsigned pending = n;
        for (int round = 0; round < 50 && pending > 0; round++) {
                pending = 0;
                for (unsigned i = 0; i < n; i++)
                        if (!ss[i].first_new && !report_gap(&ss[i], sig_ns, took_ns)) {
                                ss[i].first_new = 0;
                                pending++;
                        }
                if (pending)
                        usleep(100000);
        }
        if (pending) {
                snprintf(v, sizeof(v), "%u reports have no row after it", pending);
                row(what, v, "", "MISS");
                goto out;
        }
        for (unsigned i = 0; i < n; i++) {
                hole[i] = ms(ss[i].first_new - ss[i].last_old);
                said[i] = status_gap(&conns[i / PER_CONN], ss[i].id) * 1e3;
        }
        qsort(hole, n, sizeof(double), cmp_double);
        qsort(said, n, sizeof(double), cmp_double);
        /* The smallest hole: the old mttd's last row to the new one's first. */
        double gap = hole[0];
        bool target = n >= 1000;
        if (said[0] < 0)
                snprintf(v, sizeof(v), "%.1f ms (Status: no restart_gap)", gap);
        else if (n == 1)
                snprintf(v, sizeof(v), "%.1f ms (Status says %.1f ms)", gap, said[0]);
        else
                snprintf(v, sizeof(v), "%.1f ms (Status: median %.1f, max %.1f)", gap,
                         quantile(said, n, 0.5), said[n - 1]);
        row(what, v, target ? "< 100 ms" : "reported",
            target ? (gap < 100 && said[0] >= 0 ? "ok" : "MISS") : "");
        if (n > 1) {
                snprintf(v, sizeof(v), "median %.1f ms, max %.1f ms", quantile(hole, n, 0.5),
                         hole[n - 1]);
                row("  each report's hole across it", v, "", "");
        }
        uint64_t kept = atomic_load(&w.at[MARK_KEPT]), exec = atomic_load(&w.at[MARK_EXEC]);
        snprintf(v, sizeof(v), "%.1f ms (states kept %.1f, exec %.1f)", ms(took_ns - sig_ns),
                 kept > sig_ns ? ms(kept - sig_ns) : -1.0,
                 exec > sig_ns ? ms(exec - sig_ns) : -1.0);
        row("  SIGUSR2 to the new mttd's \"took up\"", v, "", "");
out:
        if (fail) {
                if (opened < n && opened > 0)
                        snprintf(v, sizeof(v), "%s (%u sessions opened)", fail, opened);
                else
                        snprintf(v, sizeof(v), "%s", fail);
                row(what, v, "", "MISS");
        }
        for (unsigned c = 0; conns && c < n_conns; c++)
                mtt_proto_conn_close(&conns[c]); /* their sessions end as crashed */
        for (unsigned i = 0; ss && i < n; i++)
                if (ss[i].path[0])
                        unlink(ss[i].path);
        if (mttd_started)
                stop_mttd(&b);
        if (w.started)
                pthread_join(w.thread, NULL);
        if (logp[0] >= 0)
                close(logp[0]);
        ramp_stop(&m);
        free(ss);
        free(conns);
        free(hole);
        free(said);
}

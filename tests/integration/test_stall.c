/* Integration: what stalls for good stalls nobody else (SPEC 9), and a stop stays bounded.
 * The stalls are real: fusehang (fusehang.c) serves a FUSE file system whose reads and
 * writes are never answered, and holds a process's mmap_lock through a read of it, so that
 * reading that process's smaps_rollup blocks. Each test starts its own mttd and file system;
 * the teardown ends them even after a failed assert (a FUSE mount left behind would hang
 * whatever touches it later). Skips where FUSE cannot be mounted (not root, no /dev/fuse). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"
#include "proto/frame.h"

#ifndef FUSEHANG_PATH
#error "FUSEHANG_PATH must name the fusehang binary"
#endif

/* mttd's --stop-timeout-s here: a stop gives up on stalled reports after 2 s, and must be
 * over 3 s later at most. */
#define STOP_TIMEOUT_S "2"
enum { STOP_BOUND_MS = (2 + 3) * 1000 };

static harness H;

/* What a test started, for the teardown. */
static struct {
        bool started; /* H's mttd */
        char tmp[64]; /* the test's own directory: the mount points, outside H.dir (which
                       * harness_stop removes with rm -rf, and that must not walk into a
                       * FUSE mount) */
        char mnt[96];
        char tmpfs[96];
        bool tmpfs_mounted;
        char meminfo[96]; /* a fake /proc/meminfo, whose values the test moves */
        pid_t serve, holder;
        int fds[16]; /* closed once the server is gone: the close of a FUSE file flushes,
                      * which waits for the inode's lock that a held WRITE keeps */
        size_t n_fds;
} T;

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
}

static int keep(int fd)
{
        if (fd >= 0 && T.n_fds < sizeof(T.fds) / sizeof(T.fds[0]))
                T.fds[T.n_fds++] = fd;
        return fd;
}

static int setup(void **state)
{
        memset(&T, 0, sizeof(T));
        snprintf(T.tmp, sizeof(T.tmp), "/tmp/mtt-stall-XXXXXX");
        if (!mkdtemp(T.tmp))
                return -1;
        snprintf(T.mnt, sizeof(T.mnt), "%s/mnt", T.tmp);
        snprintf(T.tmpfs, sizeof(T.tmpfs), "%s/tmpfs", T.tmp);
        snprintf(T.meminfo, sizeof(T.meminfo), "%s/meminfo", T.tmp);
        if (harness_write_meminfo(T.meminfo, 1000 * 1024) < 0)
                return -1;
        return mkdir(T.mnt, 0755);
}

/* Waits up to ms for pid to end; its wait status, or -1 (it still runs). */
static int reap_within(pid_t pid, int ms)
{
        int status;
        for (int waited = 0;; waited += 10) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return status;
                if (r < 0 || waited >= ms)
                        return -1;
                sleep_ms(10);
        }
}

/* SIGTERM, then SIGKILL if it lingers; reaps it. */
static void end_process(pid_t *pid, int term_ms)
{
        if (*pid <= 0)
                return;
        kill(*pid, SIGTERM);
        if (reap_within(*pid, term_ms) == -1) {
                kill(*pid, SIGKILL);
                reap_within(*pid, 10000);
        }
        *pid = 0;
}

/* The FUSE server goes first: closing its /dev/fuse ends every held request (ENOTCONN), so
 * that the holder, mttd and the fds on the mount can then go without waiting on it. */
static void stop_serve(void)
{
        end_process(&T.serve, 5000);
}

/* The state letter of /proc/PID/task/TID, or 0. */
static char task_state(pid_t pid, const char *tid)
{
        char path[320], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        char *paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Whether SIGKILL is pending for the thread (what exit_group leaves on the others). */
static bool kill_pending(pid_t pid, const char *tid)
{
        char path[320];
        snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
        FILE *f = fopen(path, "re");
        if (!f)
                return true; /* gone meanwhile */
        char line[256];
        unsigned long long pending = 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "SigPnd: %llx", &pending) == 1)
                        break;
        fclose(f);
        return pending & (1ULL << (SIGKILL - 1));
}

/* Whether the process has exited for its part: its main thread is a zombie and every thread
 * left has SIGKILL pending. A thread inside a FUSE request that the server has already read
 * cannot leave before the server answers or goes (the kernel waits for the reply
 * uninterruptibly), and until it leaves, the process cannot be reaped. */
static bool exited_but_stuck(pid_t pid)
{
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
        char leader[16];
        snprintf(leader, sizeof(leader), "%d", (int)pid);
        if (task_state(pid, leader) != 'Z')
                return false;
        DIR *d = opendir(dir);
        if (!d)
                return false;
        bool stuck = true;
        struct dirent *e;
        while (stuck && (e = readdir(d)))
                if (e->d_name[0] != '.' && strcmp(e->d_name, leader) != 0)
                        stuck = kill_pending(pid, e->d_name);
        closedir(d);
        return stuck;
}

/* Each thread of pid, its state and where it waits, for a failure message. */
static const char *describe_threads(pid_t pid)
{
        static char out[1024];
        char dir[64];
        size_t len = 0;
        out[0] = '\0';
        snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
        DIR *d = opendir(dir);
        if (!d)
                return "(gone)";
        struct dirent *e;
        while ((e = readdir(d)) && len < sizeof(out) - 100) {
                if (e->d_name[0] == '.')
                        continue;
                char path[320], wchan[64] = "";
                snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", (int)pid, e->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        ssize_t n = read(fd, wchan, sizeof(wchan) - 1);
                        wchan[n > 0 ? n : 0] = '\0';
                        close(fd);
                }
                len += (size_t)snprintf(out + len, sizeof(out) - len, " %s:%c:%s", e->d_name,
                                        task_state(pid, e->d_name), wchan);
        }
        closedir(d);
        return out;
}

/* SIGTERM to mttd, which must have exited within bound_ms, and with status 0. */
static void assert_stops_within(int bound_ms)
{
        pid_t pid = H.pid;
        double t0 = now_s();
        kill(pid, SIGTERM);
        int status = -1;
        bool stuck = false;
        while ((status = reap_within(pid, 0)) == -1 && !(stuck = exited_but_stuck(pid)) &&
               now_s() - t0 < bound_ms / 1000.0)
                sleep_ms(10);
        double took = now_s() - t0;
        if (status == -1 && !stuck)
                fail_msg("mttd has not exited %.1f s after SIGTERM (threads:%s)", took,
                         describe_threads(pid));
        print_message("mttd exited %.2f s after SIGTERM\n", took);
        if (stuck) {
                print_message("its threads left (tid:state:wait):%s: in a FUSE request "
                              "that is never answered, mttd is reaped once the server goes\n",
                              describe_threads(pid));
                stop_serve();
                status = reap_within(pid, 5000);
                if (status == -1)
                        fail_msg("mttd still not reaped 5 s after the FUSE server went "
                                 "(threads:%s)",
                                 describe_threads(pid));
        }
        H.pid = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("mttd did not exit with 0 after SIGTERM (wait status 0x%x)", status);
}

static int teardown(void **state)
{
        stop_serve();
        if (T.holder > 0) {
                kill(T.holder, SIGKILL);
                reap_within(T.holder, 10000);
                T.holder = 0;
        }
        for (size_t i = 0; i < T.n_fds; i++)
                close(T.fds[i]);
        /* The server detaches its mount when it goes; after a crash of it, this does. */
        umount2(T.mnt, MNT_DETACH);
        rmdir(T.mnt);
        if (T.tmpfs_mounted)
                umount2(T.tmpfs, MNT_DETACH);
        rmdir(T.tmpfs);
        unlink(T.meminfo);
        rmdir(T.tmp);
        if (T.started) {
                end_process(&H.pid, 10000);
                harness_stop(&H, true); /* the directory */
        }
        memset(&T, 0, sizeof(T));
        return 0;
}

/* FUSE needs root and /dev/fuse. */
static void skip_without_fuse(void)
{
        if (geteuid() != 0) {
                print_message("skipped: mounting FUSE needs root\n");
                skip();
        }
        int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                print_message("skipped: /dev/fuse: %s\n", strerror(errno));
                skip();
        }
        close(fd);
}

/* Runs fusehang with its stdout into a pipe; the read end goes to out. It dies with this
 * process (with deathsig: serve takes SIGTERM, and unmounts). */
static pid_t spawn(const char *mode, const char *arg, int deathsig, int *out)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, deathsig);
                dup2(p[1], STDOUT_FILENO);
                execl(FUSEHANG_PATH, "fusehang", mode, arg, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return -1;
        }
        *out = p[0];
        return pid;
}

/* A line from fd within ms (without its newline), or NULL at EOF or timeout. */
static const char *read_line(int fd, int ms, char *buf, size_t size)
{
        size_t have = 0;
        double deadline = now_s() + ms / 1000.0;
        while (have < size - 1) {
                int left = (int)((deadline - now_s()) * 1000);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || poll(&p, 1, left) <= 0)
                        return NULL;
                ssize_t n = read(fd, buf + have, 1);
                if (n <= 0)
                        return NULL;
                if (buf[have] == '\n') {
                        buf[have] = '\0';
                        return buf;
                }
                have++;
        }
        return NULL;
}

/* After fusehang printed nothing: skips where it says the machine cannot (77), else fails. */
static void fusehang_failed(pid_t *pid, const char *what)
{
        int status = reap_within(*pid, 5000);
        if (status == -1) {
                kill(*pid, SIGKILL);
                reap_within(*pid, 5000);
        }
        *pid = 0;
        if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 77) {
                print_message("skipped: fusehang %s cannot here (its message above)\n", what);
                skip();
        }
        fail_msg("fusehang %s did not start (wait status 0x%x)", what, status);
}

/* fusehang serve on T.mnt, answered INIT: the mount is in use. */
static void serve_or_skip(void)
{
        int out;
        T.serve = spawn("serve", T.mnt, SIGTERM, &out);
        assert_true(T.serve > 0);
        char line[32];
        const char *ready = read_line(out, 10000, line, sizeof(line));
        close(out);
        if (!ready || strcmp(ready, "ready") != 0)
                fusehang_failed(&T.serve, "serve");
}

/* fusehang hold on T.mnt/f: the pid whose mmap_lock is held. On a loaded machine the holder
 * itself was seen stuck before it said its pid (over a minute, in a fault of its own behind
 * the lock it sets up): such a holder is killed and another one started, a few times. */
static pid_t hold_or_skip(void)
{
        char file[128], line[32];
        snprintf(file, sizeof(file), "%s/f", T.mnt);
        for (int attempt = 1;; attempt++) {
                int out;
                T.holder = spawn("hold", file, SIGKILL, &out);
                assert_true(T.holder > 0);
                const char *pid = read_line(out, 20000, line, sizeof(line));
                close(out);
                if (pid) {
                        assert_int_equal(atoi(pid), T.holder);
                        return T.holder;
                }
                /* It ended without a word (it cannot here, or failed: left for
                 * fusehang_failed to reap), or is stuck. */
                siginfo_t ended = {0};
                waitid(P_PID, (id_t)T.holder, &ended, WEXITED | WNOHANG | WNOWAIT);
                if (attempt == 3 || ended.si_pid != 0)
                        fusehang_failed(&T.holder, "hold");
                print_message("fusehang hold said nothing in 20 s (attempt %d): again\n", attempt);
                kill(T.holder, SIGKILL);
                reap_within(T.holder, 5000);
                T.holder = 0;
        }
}

/* Sends a call and does not wait for its reply. */
static void send_call(int conn, const char *method, const char *params, const int *fds,
                      size_t n_fds)
{
        char msg[1024];
        int n = snprintf(msg, sizeof(msg), "{\"method\":\"%s\",\"parameters\":%s}", method, params);
        assert_int_equal(mtt_proto_send_all(conn, msg, (size_t)n + 1, fds, n_fds), 0);
}

/* A call on a fresh connection (its parameters: a new reference), or NULL when it got no
 * answer within 5 s or an error. */
static json_t *call(const char *method, const char *params)
{
        int fd = harness_connect(&H);
        if (fd < 0)
                return NULL;
        json_t *r = harness_call(fd, method, params, NULL, 0);
        close(fd);
        json_t *p = r && !harness_error(r) ? json_incref(json_object_get(r, "parameters")) : NULL;
        json_decref(r);
        return p;
}

static json_t *status_of(long long id)
{
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%lld}", id);
        json_t *p = call("io.mtt.Tracker.Status", params);
        if (!p)
                fail_msg("Status of session %lld got no answer", id);
        json_t *s = json_incref(json_object_get(p, "session"));
        json_decref(p);
        return s;
}

/* The id of the running session labelled label, looked for until ms have passed; 0 if none. */
static long long find_session(const char *label, int ms)
{
        double deadline = now_s() + ms / 1000.0;
        do {
                json_t *p = call("io.mtt.Tracker.List", NULL);
                json_t *s;
                size_t i;
                long long id = 0;
                json_array_foreach(json_object_get(p, "sessions"), i, s)
                {
                        const char *l = json_string_value(json_object_get(s, "label"));
                        if (l && strcmp(l, label) == 0)
                                id = json_integer_value(json_object_get(s, "id"));
                }
                json_decref(p);
                if (id > 0)
                        return id;
                sleep_ms(50);
        } while (now_s() < deadline);
        return 0;
}

static int count_lines(const char *path)
{
        char *text = harness_read_file(path);
        int n = 0;
        for (const char *c = text; c && *c; c++)
                n += *c == '\n';
        free(text);
        return n;
}

static void assert_completed_report(const char *path)
{
        char *text = harness_read_file(path);
        int rows;
        const char *why = harness_check_report(text, ENDING_COMPLETED, &rows);
        if (why)
                fail_msg("%s: %s in:\n%s", path, why, text ? text : "");
        free(text);
}

static char *dump(const json_t *j)
{
        static char buf[2048];
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        snprintf(buf, sizeof(buf), "%s", s ? s : "(none)");
        free(s);
        return buf;
}

/* A process whose mmap_lock is held (reading its smaps_rollup blocks, uninterruptibly but
 * for a fatal signal) stalls nobody else: the loop answers, the other sessions write and
 * close, the held session's status says how long its read has waited, and a stop is
 * bounded. */
static void test_held_mmap_lock(void **state)
{
        skip_without_fuse();
        /* The machine is a fake meminfo: the innocent session's rows come when the test
         * moves it (a row that repeats its neighbours is not written). */
        const char *const args[] = {
            "--read-timeout-ms", "500", "--stop-timeout-s", STOP_TIMEOUT_S, "--meminfo",
            T.meminfo,           NULL};
        const char *const args_before[] = {"--stop-timeout-s", STOP_TIMEOUT_S, "--meminfo",
                                           T.meminfo, NULL};
        if (harness_start(&H, args) != 0) {
                /* A daemon from before --read-timeout-ms: the test still shows what it does. */
                print_message("mttd refused --read-timeout-ms: started without it\n");
                harness_stop(&H, true);
                assert_int_equal(harness_start(&H, args_before), 0);
        }
        T.started = true;
        char vpath[256];
        mtt_session *v = harness_open(&H, "innocent", vpath, sizeof(vpath));
        assert_non_null(v);

        serve_or_skip();
        pid_t holder = hold_or_skip();
        char hpath[256], params[128];
        int fd = open(harness_path(&H, "held.csv", hpath, sizeof(hpath)),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        int conn = keep(harness_connect(&H)); /* the held session's heartbeat */
        snprintf(params, sizeof(params),
                 "{\"fd\":0,\"label\":\"held\",\"scope\":\"process\",\"pid\":%d}", (int)holder);
        double t0 = now_s();
        json_t *r = harness_call(conn, "io.mtt.Tracker.Open", params, &fd, 1);
        close(fd);
        if (!r)
                fail_msg("Open of a process whose mmap_lock is held: no answer in %.1f s",
                         now_s() - t0);
        if (harness_error(r))
                fail_msg("Open of a process whose mmap_lock is held: %s", dump(r));
        long long id = json_integer_value(
            json_object_get(json_object_get(json_object_get(r, "parameters"), "session"), "id"));
        json_decref(r);
        assert_true(id > 0);

        /* The loop answers, every time and at once, while the held tree is due. */
        for (int i = 0; i < 5; i++) {
                t0 = now_s();
                json_t *p = call("io.mtt.Tracker.Sample", NULL);
                double took = now_s() - t0;
                if (!p || took > 2.0)
                        fail_msg("Sample %d: %s after %.2f s", i,
                                 p ? "answered too late" : "no answer", took);
                json_decref(p);
                sleep_ms(200);
        }

        /* The innocent session's rows go on: with the machine moving, a flush (rows reach
         * the file within 1 s) within 1.5 s. */
        int before = count_lines(vpath);
        long long used_kb = 1000 * 1024;
        t0 = now_s();
        while (count_lines(vpath) <= before && now_s() - t0 < 1.5) {
                used_kb += 1024;
                assert_int_equal(harness_write_meminfo(T.meminfo, used_kb), 0);
                sleep_ms(20);
        }
        if (count_lines(vpath) <= before)
                fail_msg("the innocent report got no row in %.1f s (%d lines)", now_s() - t0,
                         before);

        /* ... and it closes. */
        t0 = now_s();
        int rc = mtt_close(v, MTT_COMPLETED);
        if (rc != 0)
                fail_msg("Close of the innocent session: %s after %.1f s", strerror(-rc),
                         now_s() - t0);
        assert_completed_report(vpath);

        /* The held session says that its read waits. */
        json_t *s = NULL;
        t0 = now_s();
        do {
                json_decref(s);
                s = status_of(id);
                if (json_is_number(json_object_get(s, "read_stalled")))
                        break;
                sleep_ms(100);
        } while (now_s() - t0 < 3.0);
        if (!json_is_number(json_object_get(s, "read_stalled")))
                fail_msg("the held session's status has no read_stalled: %s", dump(s));
        print_message("the held session: read_stalled %.2f s\n",
                      json_number_value(json_object_get(s, "read_stalled")));
        json_decref(s);

        /* A stop with the held session running. */
        assert_stops_within(STOP_BOUND_MS);
}

/* mttd on the fake meminfo with FUSE counted as local (MTTD_TEST_LOCAL_FS=fuse: its reports
 * join shared write jobs), extra options, and fusehang answering its first answer_writes
 * WRITEs. */
static void start_fuse_as_local(const char *extra_opt, const char *extra_val,
                                const char *answer_writes)
{
        skip_without_fuse();
        const char *const args[] = {"--stop-timeout-s", STOP_TIMEOUT_S, "--meminfo", T.meminfo,
                                    extra_opt,          extra_val,      NULL};
        setenv("MTTD_TEST_LOCAL_FS", "fuse", 1);
        int started = harness_start(&H, args);
        unsetenv("MTTD_TEST_LOCAL_FS");
        assert_int_equal(started, 0);
        T.started = true;
        setenv("FUSEHANG_ANSWER_WRITES", answer_writes, 1);
        serve_or_skip();
        unsetenv("FUSEHANG_ANSWER_WRITES");
}

/* The machine moves (the fake meminfo, by 64 MiB up or down): every report has rows at
 * every flush. */
static void move_machine(long long *step)
{
        ++*step;
        assert_int_equal(harness_write_meminfo(T.meminfo, 1000 * 1024 + (*step % 2) * 65536), 0);
}

/* One report that stalls (its writes never return) does not hold the writes of the other
 * reports it shares jobs with: with MTTD_TEST_LOCAL_FS=fuse, mttd counts the FUSE file as
 * local, a file that cannot stall, whose writes it batches with the others'. Its first write
 * (the header) is answered, so its rows join a shared job with X's, ahead of them, and stall
 * there: X's rows must be taken from that job and written all the same. A stop is bounded
 * all the same. */
static void test_stalled_local_report(void **state)
{
        /* The machine moves at every step: both reports have rows at every flush, so they
         * share its job. */
        start_fuse_as_local(NULL, NULL, "1");

        /* F writes into the FUSE file: its first write (the header) goes through, the next
         * never returns. */
        char fpath[128];
        snprintf(fpath, sizeof(fpath), "%s/f", T.mnt);
        int ffd = keep(open(fpath, O_WRONLY | O_CLOEXEC));
        assert_true(ffd >= 0);
        int fconn = keep(harness_connect(&H));
        assert_true(fconn >= 0);
        send_call(fconn, "io.mtt.Tracker.Open", "{\"fd\":0,\"label\":\"stall-f\"}", &ffd, 1);
        long long fid = find_session("stall-f", 3000);
        if (fid == 0)
                fail_msg("the session writing into FUSE is not listed");
        /* The premise: the report counts as one that cannot stall. */
        json_t *s = status_of(fid);
        if (!json_is_false(json_object_get(s, "may_stall")))
                fail_msg("MTTD_TEST_LOCAL_FS=fuse: the FUSE report should count as local "
                         "(may_stall false); its status: %s",
                         dump(s));
        json_decref(s);

        /* X writes into a file of the test directory. */
        char xpath[256];
        harness_path(&H, "x.csv", xpath, sizeof(xpath));
        mtt_options o = {.socket_path = H.socket, .label = "x", .timeout_ms = 10000};
        mtt_session *x;
        double t0 = now_s();
        int rc = mtt_open(xpath, &o, &x);
        if (rc != 0)
                fail_msg("Open of X: %s after %.1f s", strerror(-rc), now_s() - t0);

        /* Rows pile up in both and a shared flush goes out, F's rows ahead of X's: F's never
         * return. Once F's write has stalled there past the deadline, its report counts as
         * one that may stall, and the rest of that job (X's rows) went to another thread. */
        bool moved = false;
        long long step = 0;
        for (double until = now_s() + 10; !moved && now_s() < until; sleep_ms(50)) {
                move_machine(&step);
                s = status_of(fid);
                moved = json_is_true(json_object_get(s, "may_stall"));
                json_decref(s);
        }
        if (!moved)
                fail_msg("F's write stalled in a shared job, yet after 10 s its status still "
                         "says it cannot stall");
        t0 = now_s();
        rc = mtt_close(x, MTT_COMPLETED);
        double took = now_s() - t0;
        if (rc != 0)
                fail_msg("Close of X: %s after %.1f s (its writes wait behind F's?)", strerror(-rc),
                         took);
        print_message("Close of X: %.2f s\n", took);
        assert_true(took < 10.0);
        assert_completed_report(xpath);

        /* F's write never returns; the stop does not wait for it past the timeout. */
        assert_stops_within(STOP_BOUND_MS);
}

/* A sync that does not come back holds only its own file system's reports: with the FUSE file
 * counted as local again, F's writes are answered but its fdatasync never is, and X's sync (on
 * the test directory's file system) must not wait behind it in a shared job, or X's Close
 * would wait for ever. */
static void test_stalled_sync(void **state)
{
        start_fuse_as_local("--sync-interval-s", "1", "1000000");

        char fpath[128];
        snprintf(fpath, sizeof(fpath), "%s/f", T.mnt);
        int ffd = keep(open(fpath, O_WRONLY | O_CLOEXEC));
        assert_true(ffd >= 0);
        mtt_options o = {.socket_path = H.socket, .label = "sync-f", .timeout_ms = 2000};
        mtt_session *f, *x;
        assert_int_equal(mtt_open_fd(ffd, &o, &f), 0);
        o.timeout_ms = 10000;
        char xpath[256];
        harness_path(&H, "x.csv", xpath, sizeof(xpath));
        o.label = "x";
        assert_int_equal(mtt_open(xpath, &o, &x), 0);

        /* Rows in both (the machine moves), until a writer thread of mttd waits in F's sync. */
        bool held = false;
        long long step = 0;
        for (double until = now_s() + 10; !held && now_s() < until; sleep_ms(50)) {
                move_machine(&step);
                held = strstr(describe_threads(H.pid), "request_wait_answer") != NULL;
        }
        if (!held)
                fail_msg("no sync of F was held within 10 s: %s", describe_threads(H.pid));
        /* Past the next sync interval, X's own sync has gone (or waits behind F's). */
        for (double until = now_s() + 1.5; now_s() < until; sleep_ms(50)) {
                move_machine(&step);
        }
        double t0 = now_s();
        int rc = mtt_close(x, MTT_COMPLETED);
        double took = now_s() - t0;
        if (rc != 0)
                fail_msg("Close of X: %s after %.1f s (its sync waits behind F's?)", strerror(-rc),
                         took);
        print_message("Close of X: %.2f s\n", took);
        assert_completed_report(xpath);
        /* F's Close would wait for its sync: the stop ends it, and its Close (a short wait
         * for a daemon that is gone) frees the client's side. */
        assert_stops_within(STOP_BOUND_MS);
        mtt_close(f, MTT_COMPLETED);
}

/* Whether a report may stall is known per mount, not per device number: a FUSE mount that
 * gets the number of an unmounted tmpfs (anonymous device numbers are reused) is still one
 * that stalls. */
static void test_may_stall_follows_the_mount(void **state)
{
        skip_without_fuse();
        assert_int_equal(harness_start(&H, NULL), 0);
        T.started = true;

        assert_int_equal(mkdir(T.tmpfs, 0755), 0);
        if (mount("mtt-stall", T.tmpfs, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0) {
                print_message("skipped: tmpfs: %s\n", strerror(errno));
                skip();
        }
        T.tmpfs_mounted = true;
        char rpath[192];
        snprintf(rpath, sizeof(rpath), "%s/r.csv", T.tmpfs);
        mtt_options o = {.socket_path = H.socket, .label = "tmpfs", .timeout_ms = 5000};
        mtt_session *s;
        assert_int_equal(mtt_open(rpath, &o, &s), 0);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        struct stat st;
        assert_int_equal(stat(rpath, &st), 0);
        dev_t tmpfs_dev = st.st_dev;
        /* Not lazily: the device number is free only once nothing holds the tmpfs. */
        if (umount2(T.tmpfs, 0) < 0)
                fail_msg("umount of the tmpfs: %s (after Close, mttd still holds its report?)",
                         strerror(errno));
        T.tmpfs_mounted = false;

        serve_or_skip();
        char mpath[128];
        snprintf(mpath, sizeof(mpath), "%s/f", T.mnt);
        assert_int_equal(stat(mpath, &st), 0);
        if (st.st_dev != tmpfs_dev) {
                print_message("skipped: the FUSE mount is %u:%u, the tmpfs was %u:%u (the "
                              "number was not reused)\n",
                              major(st.st_dev), minor(st.st_dev), major(tmpfs_dev),
                              minor(tmpfs_dev));
                skip();
        }
        print_message("the FUSE mount has the tmpfs's device number %u:%u\n", major(st.st_dev),
                      minor(st.st_dev));

        int mfd = keep(open(mpath, O_WRONLY | O_CLOEXEC));
        assert_true(mfd >= 0);
        int conn = keep(harness_connect(&H));
        assert_true(conn >= 0);
        send_call(conn, "io.mtt.Tracker.Open", "{\"fd\":0,\"label\":\"fuse\"}", &mfd, 1);
        long long id = find_session("fuse", 3000);
        if (id == 0)
                fail_msg("the session writing into FUSE is not listed");
        json_t *status = status_of(id);
        if (!json_is_true(json_object_get(status, "may_stall")))
                fail_msg("a report on FUSE should say \"may_stall\": true: %s", dump(status));
        json_decref(status);

        /* Its Close waits for writes that never return: not waited for. Once the server is
         * gone (they fail), mttd stops cleanly. */
        char params[96];
        snprintf(params, sizeof(params), "{\"id\":%lld,\"outcome\":\"completed\"}", id);
        send_call(conn, "io.mtt.Tracker.Close", params, NULL, 0);
        stop_serve();
        assert_stops_within(10000);
}

/* An fd a call carries and nobody takes is closed off the loop: the close of a FUSE file
 * waits for the server's answer to its FLUSH (an NFS file's for its dirty pages), which this
 * server never gives; any user may send such an fd, of their own FUSE mount, with any call. */
static void test_unclaimed_fd_closed_off_the_loop(void **state)
{
        skip_without_fuse();
        assert_int_equal(harness_start(&H, NULL), 0);
        T.started = true;
        setenv("FUSEHANG_HOLD_FLUSH", "1", 1);
        serve_or_skip();
        unsetenv("FUSEHANG_HOLD_FLUSH");
        char fpath[128];
        snprintf(fpath, sizeof(fpath), "%s/f", T.mnt);
        int ffd = keep(open(fpath, O_WRONLY | O_CLOEXEC));
        assert_true(ffd >= 0);
        /* A Sample with the file's fd: nobody takes it, and mttd closes it once the
         * connection goes. */
        int conn = harness_connect(&H);
        assert_true(conn >= 0);
        json_t *r = harness_call(conn, "io.mtt.Tracker.Sample", "{}", &ffd, 1);
        assert_non_null(r);
        json_decref(r);
        close(conn);
        for (int i = 0; i < 3; i++) {
                double t0 = now_s();
                json_t *p = call("io.mtt.Tracker.Sample", NULL);
                if (!p)
                        fail_msg("Sample %d: no answer after %.1f s (mttd closing the FUSE fd "
                                 "on its loop?)",
                                 i, now_s() - t0);
                json_decref(p);
                sleep_ms(100);
        }
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_held_mmap_lock, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stalled_local_report, setup, teardown),
            cmocka_unit_test_setup_teardown(test_may_stall_follows_the_mount, setup, teardown),
            cmocka_unit_test_setup_teardown(test_unclaimed_fd_closed_off_the_loop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stalled_sync, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

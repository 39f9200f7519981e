/* Integration: what one client must never learn of another, nor cost it (SPEC 8 and 9). A
 * pid taken again after its process left is never measured; another user's labels never
 * reach a user; a hangup is seen whatever the connection waits for; one user's process trees
 * do not slow another user's calls. Each test runs against an mttd of its own. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <linux/sockios.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/param.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"
#include "proto/frame.h"

/* "Another user": nobody. */
enum { NOBODY = 65534 };

static harness H;

static int start_with(const char *const *args)
{
        if (harness_start(&H, args) < 0)
                return -1;
        /* The tests' other user connects to the socket in this directory. */
        return chmod(H.dir, 0755);
}

static int start(void **state)
{
        return start_with(NULL);
}

static int stop(void **state)
{
        int status = harness_stop(&H, true);
        if (status != 0)
                print_error("mttd did not stop cleanly (%d)\n", status);
        return status == 0 ? 0 : -1;
}

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool become_nobody(void)
{
        return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
               setresuid(NOBODY, NOBODY, NOBODY) == 0;
}

/* Sends a call without waiting for its reply. 0 or -1. */
static int send_call(int fd, const char *method, const char *params_json, bool more, const int *fds,
                     size_t n_fds)
{
        char msg[1024];
        int n = snprintf(msg, sizeof(msg), "{\"method\":\"%s\",\"parameters\":%s%s}", method,
                         params_json ? params_json : "{}", more ? ",\"more\":true" : "");
        if (n < 0 || (size_t)n >= sizeof(msg))
                return -1;
        return mtt_proto_send_all(fd, msg, (size_t)n + 1, fds, n_fds);
}

/* One reply frame within ms in all, parsed (new reference), or NULL on EOF, timeout or junk.
 * Bytes past the frame are dropped: one call at a time. (harness_raw waits at most 5 s per
 * read, less than some of these replies may take on a daemon that fails the tests.) */
static json_t *recv_reply(int fd, int ms)
{
        static char buf[1 << 20];
        size_t have = 0;
        double deadline = now_ms() + ms;
        for (;;) {
                char *nul = memchr(buf, '\0', have);
                if (nul)
                        return json_loadb(buf, (size_t)(nul - buf), 0, NULL);
                int left = (int)(deadline - now_ms());
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || have == sizeof(buf) || poll(&p, 1, left) <= 0)
                        return NULL;
                ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
                if (n <= 0)
                        return NULL;
                have += (size_t)n;
        }
}

static json_t *call_within(int fd, const char *method, const char *params_json, const int *fds,
                           size_t n_fds, int ms)
{
        if (send_call(fd, method, params_json, false, fds, n_fds) < 0)
                return NULL;
        return recv_reply(fd, ms);
}

static json_t *session_of(const json_t *reply)
{
        return json_object_get(json_object_get(reply, "parameters"), "session");
}

/* Everything read from fd until EOF or ms have passed (malloc'ed, NUL-terminated). */
static char *read_all(int fd, int ms)
{
        char *text = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&text, &size);
        double deadline = now_ms() + ms;
        for (;;) {
                int left = (int)(deadline - now_ms());
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || poll(&p, 1, left) <= 0)
                        break;
                char chunk[4096];
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n <= 0)
                        break;
                fwrite(chunk, 1, (size_t)n, m);
        }
        fclose(m);
        return text;
}

/* --- A reused peer pid is never measured ------------------------------------------------ */

/* B: the process that inherited the connection of A, which has left. It writes its pid and a
 * newline to result; on the go, it opens a process-scope session for "the caller" and writes
 * the reply. No parent-death signal: its parent, A, leaves at once. It leaves when the test
 * closes go. */
static _Noreturn void inheritor(int conn, int go, int result)
{
        dprintf(result, "%d\n", (int)getpid());
        char c;
        if (read(go, &c, 1) != 1)
                _exit(0);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        /* Raw GiB (no baseline), so a session that measures the newcomer shows its memory. */
        json_t *r = call_within(conn, "io.mtt.Tracker.Open",
                                "{\"fd\":0,\"label\":\"inherited\",\"scope\":\"process\","
                                "\"calibrate\":false}",
                                &null, 1, 10000);
        char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        if (text)
                dprintf(result, "%s", text);
        _exit(0);
}

/* Lets B go (with go_on, to make its call) and reaps it: B is this process's child once A
 * has left (see main). Returns what B said after its pid (malloc'ed) or NULL. */
static char *inheritor_done(int go, int result, bool go_on)
{
        bool sent = go_on && write(go, "g", 1) == 1;
        close(go);
        char *text = read_all(result, 15000);
        close(result);
        int b = 0;
        char *nl = text ? strchr(text, '\n') : NULL;
        if (nl && sscanf(text, "%d", &b) == 1 && b > 0)
                waitpid(b, NULL, 0);
        char *said = sent && nl ? strdup(nl + 1) : NULL;
        free(text);
        return said;
}

/* C: root's process at A's old pid, holding 64 MiB it has touched; says so on ready. */
static _Noreturn void newcomer(int ready)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        size_t size = (size_t)64 << 20;
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                _exit(1);
        memset(p, 1, size);
        if (write(ready, "r", 1) != 1)
                _exit(1);
        close(ready); /* the test reads ready to its end */
        for (;;)
                pause();
}

/* A child at pid want: clone3's set_tid picks it exactly (EEXIST while another process holds
 * it); where clone3 cannot, ns_last_pid then fork, which a process forking elsewhere at the
 * same moment may defeat. Only a raw syscall reaches clone3: the child then runs as after
 * fork in this single-threaded program, and newcomer calls nothing that relies on the thread
 * data glibc's fork would update. Returns as fork does. */
static pid_t fork_at(pid_t want)
{
        struct clone_args args = {
            .exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
        pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (pid >= 0 || errno == EEXIST)
                return pid;
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        char text[16];
        int n = snprintf(text, sizeof(text), "%d", (int)want - 1);
        bool ok = write(fd, text, (size_t)n) == n;
        close(fd);
        return ok ? fork() : -1;
}

/* SO_PEERCRED names the process that called connect(). A (nobody) connects and leaves; B,
 * its child, keeps the connection; root's C now has A's pid. B's Open of "the caller's"
 * process tree must be refused: measuring C would show root's process to nobody. */
static void test_reused_peer_pid(void **state)
{
        if (geteuid() != 0) {
                print_message("skipped: needs root to become another user and to pick a pid\n");
                skip();
        }
        int go[2], result[2];
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        assert_int_equal(pipe2(result, O_CLOEXEC), 0);
        pid_t a = fork();
        assert_true(a >= 0);
        if (a == 0) {
                close(go[1]);
                close(result[0]);
                if (!become_nobody())
                        _exit(10);
                int conn = harness_connect(&H);
                if (conn < 0)
                        _exit(11);
                /* An answered call: mttd has accepted the connection while A lives. */
                json_t *r = call_within(conn, "io.mtt.Tracker.List", NULL, NULL, 0, 5000);
                if (!r || harness_error(r))
                        _exit(12);
                pid_t b = fork();
                if (b == 0)
                        inheritor(conn, go[0], result[1]);
                _exit(b > 0 ? 0 : 13);
        }
        close(go[0]);
        close(result[1]);
        int status;
        assert_int_equal(waitpid(a, &status, 0), a);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        /* A is reaped: its pid is free for C. */
        pid_t c = -1;
        int ready[2], err = 0;
        for (int try = 0; try < 20; try++) {
                assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
                c = fork_at(a);
                if (c == 0)
                        newcomer(ready[1]);
                if (c == a)
                        break;
                err = errno;
                if (c > 0) {
                        kill(c, SIGKILL);
                        waitpid(c, NULL, 0);
                }
                close(ready[0]);
                close(ready[1]);
                if (c < 0 && err != EEXIST)
                        break;
                usleep(50000); /* whoever holds the pid now may let it go */
        }
        if (c != a) {
                free(inheritor_done(go[1], result[0], false));
                print_message("skipped: cannot start a process at pid %d (%s)\n", (int)a,
                              c < 0 ? strerror(err) : "another process took it");
                skip();
        }
        close(ready[1]);
        char *touched = read_all(ready[0], 10000);
        close(ready[0]);
        bool holds = touched && strcmp(touched, "r") == 0;
        free(touched);

        char *said = inheritor_done(go[1], result[0], true);
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
        assert_true(holds);
        json_t *reply = said ? json_loads(said, 0, NULL) : NULL;
        if (!reply)
                fail_msg("B got no reply (%s)", said ? said : "");
        const char *error = harness_error(reply);
        if (!error) {
                json_t *s = session_of(reply);
                fail_msg("an Open without pid on the connection of pid %d, which has left, "
                         "opened session %lld measuring pid %lld (root's process now at that "
                         "pid: %d) at %.4f GiB",
                         (int)a, (long long)json_integer_value(json_object_get(s, "id")),
                         (long long)json_integer_value(json_object_get(s, "tracked_pid")), (int)c,
                         json_real_value(json_object_get(s, "ram")));
        }
        print_message("refused: %s\n", said);
        json_decref(reply);
        free(said);
}

/* --- Another user's labels never reach a user -------------------------------------------- */

#define SECRET "root-secret-label"
enum { EXCERPT = 60 }; /* characters shown on each side of a leaked label */

static char notes[8192];

/* Adds a violation to the notes the child sends back. */
__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
        size_t len = strlen(notes);
        if (len + 2 >= sizeof(notes))
                return;
        if (len > 0)
                notes[len++] = '\n';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(notes + len, sizeof(notes) - len, fmt, ap);
        va_end(ap);
}

/* Notes a reply that is missing, an error, or shows the secret label anywhere. True when the
 * reply is a good one (it may still show the label). */
static bool check_reply(const char *what, const json_t *r)
{
        if (!r) {
                note("%s: no reply", what);
                return false;
        }
        char *text = json_dumps(r, JSON_COMPACT), *at;
        if (harness_error(r))
                note("%s: %s", what, text);
        else if ((at = strstr(text, SECRET)) != NULL)
                note("%s shows root's label: ...%.*s...", what,
                     (int)(strlen(SECRET) + 2 * (size_t)EXCERPT), at - MIN(at - text, EXCERPT));
        free(text);
        return !harness_error(r);
}

static json_t *status_call(int conn, uint64_t id)
{
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)id);
        return call_within(conn, "io.mtt.Tracker.Status", params, NULL, 0, 5000);
}

static bool lists_label(const json_t *session, const char *label)
{
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(session, "overlapped_with"), i, v)
        {
                if (json_string_value(v) && strcmp(json_string_value(v), label) == 0)
                        return true;
        }
        return false;
}

/* The child's part, as nobody: its own sessions "mine" and "mine-too" into the given fds. */
static void labels_as_nobody(int mine_fd, int mine_too_fd)
{
        if (!become_nobody()) {
                note("cannot become uid %d: %s", NOBODY, strerror(errno));
                return;
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* after the uid change, which clears it */
        int conn = harness_connect(&H), watch = harness_connect(&H);
        if (conn < 0 || watch < 0) {
                note("uid %d cannot connect to the socket: %s", NOBODY, strerror(errno));
                return;
        }
        mtt_options o = {.socket_path = H.socket, .label = "mine", .timeout_ms = 10000};
        mtt_session *mine, *mine_too;
        int r = mtt_open_fd(mine_fd, &o, &mine);
        if (r < 0) {
                note("Open \"mine\": %s", strerror(-r));
                return;
        }
        json_t *st = status_call(conn, mtt_session_id(mine));
        if (check_reply("Status of its own session", st)) {
                json_int_t overlaps =
                    json_integer_value(json_object_get(session_of(st), "overlaps"));
                if (overlaps < 1)
                        note("its session counts %lld overlaps: root's beside it is not "
                             "counted",
                             (long long)overlaps);
        }
        json_decref(st);
        json_t *list = call_within(conn, "io.mtt.Tracker.List", NULL, NULL, 0, 5000);
        check_reply("List", list);
        json_decref(list);
        json_t *first = send_call(watch, "io.mtt.Tracker.Watch", NULL, true, NULL, 0) == 0
                            ? recv_reply(watch, 5000)
                            : NULL;
        check_reply("Watch's first reply", first);
        json_decref(first);
        close(watch);

        /* Its own overlapping session it may see by name. */
        o.label = "mine-too";
        r = mtt_open_fd(mine_too_fd, &o, &mine_too);
        if (r < 0) {
                note("Open \"mine-too\": %s", strerror(-r));
                return;
        }
        st = status_call(conn, mtt_session_id(mine));
        if (check_reply("Status after \"mine-too\"", st) &&
            !lists_label(session_of(st), "mine-too")) {
                char *text = json_dumps(st, JSON_COMPACT);
                note("\"mine-too\" is not in the overlaps of \"mine\": %s", text);
                free(text);
        }
        json_decref(st);
        if ((r = mtt_close(mine_too, MTT_COMPLETED)) < 0 ||
            (r = mtt_close(mine, MTT_COMPLETED)) < 0)
                note("Close: %s", strerror(-r));
        close(conn);
}

/* SPEC 8: nothing of another user's session reaches a user, not even through the overlap
 * list of the user's own session; the count of overlaps may tell that something ran. */
static void test_labels_of_other_users(void **state)
{
        if (geteuid() != 0) {
                print_message("skipped: needs root to become another user\n");
                skip();
        }
        char path[256];
        mtt_session *secret = harness_open(&H, SECRET, path, sizeof(path));
        assert_non_null(secret);
        /* Root makes nobody's reports: nobody may not create files in the test directory. */
        int mine = open(harness_path(&H, "mine.csv", path, sizeof(path)),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int mine_too = open(harness_path(&H, "mine-too.csv", path, sizeof(path)),
                            O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(mine >= 0 && mine_too >= 0);
        int result[2];
        assert_int_equal(pipe2(result, O_CLOEXEC), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                close(result[0]);
                labels_as_nobody(mine, mine_too);
                const char *out = notes[0] ? notes : "ok";
                _exit(write(result[1], out, strlen(out)) == (ssize_t)strlen(out) ? 0 : 1);
        }
        close(result[1]);
        close(mine);
        close(mine_too);
        char *text = read_all(result[0], 60000);
        close(result[0]);
        int status;
        waitpid(child, &status, 0);
        assert_int_equal(mtt_close(secret, MTT_COMPLETED), 0);
        if (!text || strcmp(text, "ok") != 0)
                fail_msg("as uid %d:\n%s", NOBODY, text && text[0] ? text : "(nothing said)");
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(text);
}

/* --- A hangup behind a stalled Close and a queued call --------------------------------- */

static uint64_t opened_id(const json_t *reply)
{
        return (uint64_t)json_integer_value(json_object_get(session_of(reply), "id"));
}

/* One connection: S1's report is a pipe nobody reads, S2's a file. Close(S1) waits for the
 * stalled write, Status(S2) queues behind it, and the client hangs up: S2's heartbeat is gone,
 * so S2 ends crashed, whatever the connection still had to answer. */
static void test_hangup_behind_stalled_close(void **state)
{
        int conn = harness_connect(&H);
        assert_true(conn >= 0);
        int p[2];
        assert_int_equal(harness_full_pipe(p), 0);
        /* Generous: an Open may wait for its report's first write until that is reported
         * stalled. */
        json_t *r = call_within(conn, "io.mtt.Tracker.Open", "{\"fd\":0,\"label\":\"stalled\"}",
                                &p[1], 1, 20000);
        close(p[1]);
        assert_non_null(r);
        assert_null(harness_error(r));
        uint64_t s1 = opened_id(r);
        json_decref(r);
        char path[256];
        int file = open(harness_path(&H, "file.csv", path, sizeof(path)),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(file >= 0);
        r = call_within(conn, "io.mtt.Tracker.Open", "{\"fd\":0,\"label\":\"file\"}", &file, 1,
                        5000);
        close(file);
        assert_non_null(r);
        assert_null(harness_error(r));
        uint64_t s2 = opened_id(r);
        json_decref(r);

        char params[96];
        snprintf(params, sizeof(params), "{\"id\":%llu,\"outcome\":\"completed\"}",
                 (unsigned long long)s1);
        assert_int_equal(send_call(conn, "io.mtt.Tracker.Close", params, false, NULL, 0), 0);
        /* The Status must come once mttd has taken the Close in (and made its reply wait), not
         * in the same read: a UNIX socket's SIOCOUTQ counts the bytes sent that the reader
         * has not consumed yet. */
        bool close_read = false;
        for (double until = now_ms() + 5000; !close_read && now_ms() < until; usleep(1000)) {
                int unread = -1;
                close_read = ioctl(conn, SIOCOUTQ, &unread) == 0 && unread == 0;
        }
        assert_true(close_read);
        snprintf(params, sizeof(params), "{\"id\":%llu}", (unsigned long long)s2);
        assert_int_equal(send_call(conn, "io.mtt.Tracker.Status", params, false, NULL, 0), 0);
        close(conn);

        int other = harness_connect(&H);
        assert_true(other >= 0);
        char seen[64] = "";
        double deadline = now_ms() + 5000;
        do {
                json_t *st = status_call(other, s2);
                const char *now = json_string_value(json_object_get(session_of(st), "state"));
                snprintf(seen, sizeof(seen), "%s", now ? now : "(no reply)");
                json_decref(st);
                if (strcmp(seen, "crashed") == 0)
                        break;
                usleep(20000);
        } while (now_ms() < deadline);
        close(other);
        /* Let the stalled writes through so S1 can end and mttd stop: mttd closes its copy of
         * the pipe once S1 is done. */
        free(read_all(p[0], 20000));
        close(p[0]);
        if (strcmp(seen, "crashed") != 0)
                fail_msg("S2 is still %s 5 s after its connection hung up behind a stalled "
                         "Close and a queued Status",
                         seen);
}

/* --- One user's process trees do not slow another's calls ------------------------------- */

/* The budgets bound how long a daemon that fails this test takes to fail it; one that passes
 * needs well under a second of each. */
enum { CHAIN = 300, SAMPLES = 20, OPEN_BUDGET_MS = 90000, SAMPLE_BUDGET_MS = 30000 };

static int start_many(void **state)
{
        static const char *const args[] = {"--max-sessions-per-uid", "1000", "--max-sessions",
                                           "2000", NULL};
        return start_with(args);
}

/* The chain's first member: forks the next, which forks the next, CHAIN in all; each says
 * its pid on pids and sleeps. They share a process group (the first's pid), to be killed
 * together. */
static _Noreturn void chain(int pids)
{
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that dies takes the chain along */
        for (int i = 1; i < CHAIN; i++) {
                pid_t next = fork();
                if (next < 0)
                        _exit(1);
                if (next > 0)
                        break;
                prctl(PR_SET_PDEATHSIG, SIGKILL);
        }
        pid_t me = getpid();
        if (write(pids, &me, sizeof(me)) != sizeof(me))
                _exit(1);
        for (;;)
                pause();
}

static int by_value(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* SPEC 9: reads of process trees happen off the event loop, so 300 sessions on trees of up
 * to 300 processes cost another client's calls nothing it would notice. */
static void test_many_trees(void **state)
{
        int pids_pipe[2];
        assert_int_equal(pipe2(pids_pipe, O_CLOEXEC), 0);
        pid_t top = fork();
        assert_true(top >= 0);
        if (top == 0) {
                close(pids_pipe[0]);
                chain(pids_pipe[1]);
        }
        setpgid(top, top); /* whichever of the two runs first */
        close(pids_pipe[1]);
        pid_t pids[CHAIN];
        size_t have = 0;
        double deadline = now_ms() + 60000;
        while (have < sizeof(pids) && now_ms() < deadline) {
                struct pollfd p = {.fd = pids_pipe[0], .events = POLLIN};
                if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
                        break;
                ssize_t n = read(pids_pipe[0], (char *)pids + have, sizeof(pids) - have);
                if (n <= 0)
                        break;
                have += (size_t)n;
        }
        close(pids_pipe[0]);

        int opened = 0;
        char open_error[256] = "";
        double open_ms = 0, ms[SAMPLES] = {0};
        int n_samples = 0;
        bool samples_ok = true;
        int conn = harness_connect(&H);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (have == sizeof(pids) && conn >= 0 && null >= 0) {
                double t0 = now_ms();
                /* Generous: a daemon that reads the trees on its loop takes minutes here. */
                for (; opened < CHAIN && now_ms() - t0 < OPEN_BUDGET_MS; opened++) {
                        char params[128];
                        snprintf(params, sizeof(params),
                                 "{\"fd\":0,\"label\":\"tree\",\"scope\":\"process\",\"pid\":%d}",
                                 (int)pids[opened]);
                        json_t *r = call_within(conn, "io.mtt.Tracker.Open", params, &null, 1,
                                                (int)(OPEN_BUDGET_MS - (now_ms() - t0)) + 1);
                        bool ok = r && !harness_error(r);
                        if (!ok)
                                snprintf(open_error, sizeof(open_error), "%s",
                                         r ? harness_error(r) : "no reply in time");
                        json_decref(r);
                        if (!ok)
                                break;
                }
                open_ms = now_ms() - t0;
                /* Connected now: mttd closes a connection idle for a minute. */
                int other = harness_connect(&H);
                double t1 = now_ms();
                while (samples_ok && n_samples < SAMPLES) {
                        int left = (int)(SAMPLE_BUDGET_MS - (now_ms() - t1));
                        double t = now_ms();
                        json_t *r = left > 0 ? call_within(other, "io.mtt.Tracker.Sample", NULL,
                                                           NULL, 0, left)
                                             : NULL;
                        ms[n_samples++] = now_ms() - t;
                        samples_ok = r && !harness_error(r);
                        json_decref(r);
                }
                if (other >= 0)
                        close(other);
        }
        if (null >= 0)
                close(null);
        if (conn >= 0)
                close(conn);
        /* As subreaper this process gets every member whose parent dies first, so the group
         * is empty once waitpid says there is no such child. */
        kill(-top, SIGKILL);
        while (waitpid(-top, NULL, 0) > 0 || errno == EINTR) {
        }

        assert_int_equal(have, sizeof(pids));
        assert_true(n_samples > 0);
        qsort(ms, (size_t)n_samples, sizeof(ms[0]), by_value);
        double median =
            n_samples % 2 ? ms[n_samples / 2] : (ms[n_samples / 2 - 1] + ms[n_samples / 2]) / 2;
        print_message("%d sessions on a chain of %d processes opened in %.0f ms; %d Samples "
                      "beside them: median %.2f ms, max %.2f ms\n",
                      opened, CHAIN, open_ms, n_samples, median, ms[n_samples - 1]);
        if (opened < CHAIN)
                fail_msg("%d of %d Opens done in %.0f s (%s)", opened, CHAIN, open_ms / 1e3,
                         open_error[0] ? open_error : "out of time");
        if (!samples_ok)
                fail_msg("Sample %d of %d failed or was not answered within %d s in all", n_samples,
                         SAMPLES, SAMPLE_BUDGET_MS / 1000);
        assert_true(median < 20.0);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN);
        /* Orphans of the tests' processes (B once A has left, the chain's members) come back
         * to this process, which reaps them. */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_reused_peer_pid, start, stop),
            cmocka_unit_test_setup_teardown(test_labels_of_other_users, start, stop),
            cmocka_unit_test_setup_teardown(test_hangup_behind_stalled_close, start, stop),
            cmocka_unit_test_setup_teardown(test_many_trees, start_many, stop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Integration test harness. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mtt/client.h"
#include "proto/frame.h"

#ifndef MTTD_PATH
#error "MTTD_PATH must name the mttd binary under test"
#endif

const char *harness_path(const harness *h, const char *name, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%s", h->dir, name);
        return buf;
}

int harness_connect(const harness *h)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->socket);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

int harness_start(harness *h, const char *const *extra_args)
{
        memset(h, 0, sizeof(*h));
        snprintf(h->dir, sizeof(h->dir), "/tmp/mtt-test-XXXXXX");
        if (!mkdtemp(h->dir))
                return -1;
        /* Other uids (the permission tests) must reach the socket. */
        chmod(h->dir, 0755);
        snprintf(h->socket, sizeof(h->socket), "%s/sock", h->dir);
        snprintf(h->log, sizeof(h->log), "%s/mttd.log", h->dir);
        snprintf(h->valgrind_log, sizeof(h->valgrind_log), "%s/valgrind.log", h->dir);
        char log_file[160];
        snprintf(log_file, sizeof(log_file), "--log-file=%s", h->valgrind_log);
        const char *argv[48];
        size_t n = 0;
        h->valgrind = getenv("MTT_TEST_VALGRIND") != NULL;
        if (h->valgrind) {
                /* Memory errors and definite leaks fail the run; the fds left open at exit
                 * are counted by harness_stop. */
                static const char *const memcheck[] = {"valgrind",
                                                       "--tool=memcheck",
                                                       "--error-exitcode=99",
                                                       "--leak-check=full",
                                                       "--show-leak-kinds=definite",
                                                       "--errors-for-leak-kinds=definite",
                                                       "--track-fds=yes"};
                for (size_t i = 0; i < sizeof(memcheck) / sizeof(memcheck[0]); i++)
                        argv[n++] = memcheck[i];
                argv[n++] = log_file;
        }
        argv[n++] = MTTD_PATH;
        argv[n++] = "--socket";
        argv[n++] = h->socket;
        for (size_t i = 0; extra_args && extra_args[i] && n < 47; i++)
                argv[n++] = extra_args[i];
        argv[n] = NULL;
        h->pid = fork();
        if (h->pid < 0)
                return -1;
        if (h->pid == 0) {
                /* A test that fails midway must not leave its mttd behind, nor keep the
                 * runner's output pipe open through it. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int log = open(h->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
                if (log >= 0) {
                        dup2(log, 1);
                        dup2(log, 2);
                        close(log);
                }
                closefrom(3); /* what the runner left open is not mttd's */
                execvp(argv[0], (char **)argv);
                _exit(127);
        }
        /* Under valgrind mttd takes seconds to start. */
        for (int i = 0; i < 3000; i++) {
                int fd = harness_connect(h);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
                if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
                        h->pid = 0;
                        return -1;
                }
                usleep(10000);
        }
        return -1;
}

/* The fds valgrind found open at exit that mttd opened itself (not inherited), or -1 when
 * the log has no such report. */
static int fds_left_open(const char *log)
{
        const char *p = log ? strstr(log, "FILE DESCRIPTORS: ") : NULL;
        if (!p)
                return -1;
        int n = 0;
        while ((p = strstr(p, "Open file descriptor ")) != NULL) {
                const char *line_end = strchr(p, '\n');
                const char *next = line_end ? strchr(line_end + 1, '\n') : NULL;
                const char *inherited = strstr(p, "<inherited from parent>");
                if (!inherited || !next || inherited > next)
                        n++;
                p++;
        }
        return n;
}

/* valgrind's verdict: no memory error (exit 99 otherwise), and no fd left open at exit that
 * mttd opened. Prints the log when it is not clean. */
static int valgrind_verdict(const harness *h, int ret)
{
        char *log = harness_read_file(h->valgrind_log);
        int left = fds_left_open(log);
        if (ret != 0 || left != 0) {
                fprintf(stderr, "valgrind: mttd exit %d, %d fds of its own open at exit:\n%s\n",
                        ret, left, log ? log : "(no log)");
                if (ret == 0)
                        ret = -1;
        }
        free(log);
        return ret;
}

int harness_stop(harness *h, bool remove_dir)
{
        int ret = -1;
        if (h->pid > 0) {
                int status;
                kill(h->pid, SIGTERM);
                if (waitpid(h->pid, &status, 0) == h->pid && WIFEXITED(status))
                        ret = WEXITSTATUS(status);
                h->pid = 0;
                if (h->valgrind)
                        ret = valgrind_verdict(h, ret);
        }
        if (remove_dir && h->dir[0]) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "cannot remove %s\n", h->dir);
        }
        return ret;
}

json_t *harness_raw(int fd, const char *bytes, size_t len, const int *fds, size_t n_fds)
{
        if (mtt_proto_send_all(fd, bytes, len, fds, n_fds) < 0)
                return NULL;
        char buf[1 << 17];
        size_t have = 0;
        for (;;) {
                char *nul = memchr(buf, '\0', have);
                if (nul)
                        return json_loadb(buf, (size_t)(nul - buf), 0, NULL);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 5000) <= 0)
                        return NULL;
                ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
                if (n <= 0)
                        return NULL;
                have += (size_t)n;
        }
}

json_t *harness_call(int fd, const char *method, const char *params_json, const int *fds,
                     size_t n_fds)
{
        char msg[4096];
        int n = snprintf(msg, sizeof(msg), "{\"method\":\"%s\",\"parameters\":%s}", method,
                         params_json ? params_json : "{}");
        return harness_raw(fd, msg, (size_t)n + 1, fds, n_fds);
}

const char *harness_error(const json_t *reply)
{
        return json_string_value(json_object_get(reply, "error"));
}

int harness_write_meminfo(const char *path, long long used_kb)
{
        long long total = 16LL * 1024 * 1024, buffers = 1000, cached = 20000, slab = 30000;
        long long free_kb = total - used_kb - buffers - cached - slab;
        char text[512];
        int n = snprintf(text, sizeof(text),
                         "MemTotal:       %12lld kB\nMemFree:        %12lld kB\n"
                         "MemAvailable:   %12lld kB\nBuffers:        %12lld kB\n"
                         "Cached:         %12lld kB\nSwapCached:     %12d kB\n"
                         "Slab:           %12lld kB\n",
                         total, free_kb, free_kb, buffers, cached, 0, slab);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return -1;
        bool ok = pwrite(fd, text, (size_t)n, 0) == n;
        close(fd);
        return ok ? 0 : -1;
}

int harness_fake_meminfo(char *path_template, long long used_kb)
{
        int fd = mkstemp(path_template);
        if (fd < 0)
                return -1;
        close(fd);
        return harness_write_meminfo(path_template, used_kb);
}

char *harness_read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&buf, &size);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, n, m);
        fclose(f);
        fclose(m);
        return buf;
}

/* "D.DDDDDD,R.RRRRRR" with R possibly negative; returns the delta or -1. */
static double data_row(const char *line, size_t len)
{
        char tmp[128];
        if (len == 0 || len >= sizeof(tmp))
                return -1;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        char *comma = strchr(tmp, ',');
        if (!comma || !strchr(tmp, '.') || !strchr(comma, '.'))
                return -1;
        char *end;
        double delta = strtod(tmp, &end);
        if (end != comma || delta < 0)
                return -1;
        strtod(comma + 1, &end);
        if (*end != '\0')
                return -1;
        return delta;
}

const char *harness_check_report(const char *text, harness_ending ending, int *rows)
{
        *rows = 0;
        if (!text)
                return "no file";
        if (strncmp(text, "delta,ram\n", 10) != 0)
                return "header is not \"delta,ram\"";
        size_t len = strlen(text);
        if (len == 0 || text[len - 1] != '\n')
                return "the last line is not whole";
        const char *tail = ending == ENDING_COMPLETED ? "\n0,0\n"
                           : ending == ENDING_FAILED  ? "\n0,0\n-1,-1\n"
                                                      : NULL;
        size_t body_end = len;
        if (tail) {
                size_t k = strlen(tail);
                if (len < k || strcmp(text + len - k, tail) != 0)
                        return "wrong or missing ending";
                body_end = len - k + 1;
        }
        double prev = -1;
        const char *p = text + 10;
        while (p < text + body_end) {
                const char *eol = memchr(p, '\n', (size_t)(text + body_end - p));
                if (!eol)
                        return "a line is not whole";
                double d = data_row(p, (size_t)(eol - p));
                if (d < 0)
                        return "a line is not a data row with decimal points";
                if (d <= prev)
                        return "deltas do not strictly increase";
                prev = d;
                (*rows)++;
                p = eol + 1;
        }
        if (*rows == 0)
                return "no data row";
        return NULL;
}

double harness_last_delta(const char *text)
{
        const char *last = text + strlen(text);
        if (last > text)
                last--; /* the final newline */
        while (last > text && last[-1] != '\n')
                last--;
        return strtod(last, NULL);
}

int harness_finish(harness *h, int failed_tests)
{
        int status = harness_stop(h, true);
        if (status != 0)
                fprintf(stderr, "mttd did not stop cleanly (%d)\n", status);
        return failed_tests > 0 || status != 0 ? 1 : 0;
}

int harness_full_pipe(int p[2])
{
        if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[1], F_SETPIPE_SZ, 4096) < 0)
                return -1;
        int fl = fcntl(p[1], F_GETFL);
        fcntl(p[1], F_SETFL, fl | O_NONBLOCK);
        char junk[512];
        memset(junk, 'j', sizeof(junk));
        while (write(p[1], junk, sizeof(junk)) > 0) {
        }
        /* The daemon never changes the file's flags: hand it a blocking pipe. */
        fcntl(p[1], F_SETFL, fl);
        return 0;
}

bool harness_closed_within(int fd, int ms)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[65536];
        while (poll(&p, 1, ms) > 0) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return true;
                if (n < 0 && errno != EAGAIN)
                        return false;
        }
        return false;
}

mtt_session *harness_open(const harness *h, const char *name, char *path, size_t size)
{
        char file[128];
        snprintf(file, sizeof(file), "%s.csv", name);
        harness_path(h, file, path, size);
        mtt_options o = {.socket_path = h->socket, .label = name, .timeout_ms = 5000};
        mtt_session *s;
        return mtt_open(path, &o, &s) == 0 ? s : NULL;
}

bool harness_session_completes(const harness *h, const char *name)
{
        char path[256];
        mtt_session *s = harness_open(h, name, path, sizeof(path));
        return s && mtt_close(s, MTT_COMPLETED) == 0 && mtt_has_completed_successfully(path);
}

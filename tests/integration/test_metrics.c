/* Integration: mttd --metrics-file. A session is in the file from its Open, with the values
 * of the fake meminfo, and its ending once it ended; the file is written at Opens and
 * endings (the interval here is a minute), is never seen torn by a reader that loops over
 * it during 1000 Opens and Closes, leaves no temporary file, survives its directory going
 * away, and says at a stop that the sessions ended. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "mtt/client.h"

#define MIB 1024LL /* kB */

static harness H;
static char meminfo[] = "/tmp/mtt-metrics-meminfo-XXXXXX";
static char dir[] = "/tmp/mtt-metrics-XXXXXX";
static char file[128];

static int start(void **state)
{
        if (harness_fake_meminfo(meminfo, 1000 * MIB) < 0 || !mkdtemp(dir))
                return -1;
        snprintf(file, sizeof(file), "%s/mtt.prom", dir);
        /* A minute between the interval's writes: what the file shows within a few seconds
         * came from the write an Open or an ending made. */
        const char *args[] = {"--meminfo", meminfo, "--metrics-file", file, "--metrics-interval-s",
                              "60",        NULL};
        return harness_start(&H, args);
}

/* Waits up to 10 s until the file has line (whole); returns the file's text then, or fails. */
static char *wait_for_line(const char *line)
{
        char want[1024];
        snprintf(want, sizeof(want), "\n%s\n", line);
        char *text = NULL;
        for (int i = 0; i < 1000; i++) {
                free(text);
                text = harness_read_file(file);
                if (text && strstr(text, want))
                        return text;
                usleep(10000);
        }
        fail_msg("the metrics file never had: %s\nit has:\n%s", line, text ? text : "(none)");
        return NULL;
}

static bool has_line(const char *text, const char *line)
{
        char want[1024];
        snprintf(want, sizeof(want), "\n%s\n", line);
        return strstr(text, want) != NULL;
}

/* The first name in the directory besides the file, into name; false if none. */
static bool other_than_the_file(char *name, size_t size)
{
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *e;
        bool found = false;
        while (!found && (e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                    strcmp(e->d_name, "mtt.prom")) {
                        snprintf(name, size, "%s", e->d_name);
                        found = true;
                }
        closedir(d);
        return found;
}

/* The directory holds the file and nothing else: no temporary file is left. A write that
 * is out has its temporary file for a moment (a change may have come after the one the test
 * waited for): it must be gone within a second. */
static void only_the_file(void)
{
        char name[256];
        for (int i = 0; i < 100 && other_than_the_file(name, sizeof(name)); i++)
                usleep(10000);
        if (other_than_the_file(name, sizeof(name)))
                fail_msg("left in %s: %s", dir, name);
}

/* Waits (up to 10 s) until the session's peak, as Status says, is kb above its baseline. */
static void wait_for_peak(unsigned long long id, long long kb)
{
        char params[64];
        snprintf(params, sizeof(params), "{\"id\":%llu}", id);
        double peak = 0;
        for (int i = 0; i < 1000 && peak < (double)kb / 1048576 - 1e-6; i++) {
                int fd = harness_connect(&H);
                assert_true(fd >= 0);
                json_t *r = harness_call(fd, "io.mtt.Tracker.Status", params, NULL, 0);
                close(fd);
                assert_non_null(r);
                peak = json_number_value(json_object_get(
                    json_object_get(json_object_get(r, "parameters"), "session"), "peak"));
                json_decref(r);
                if (peak < (double)kb / 1048576 - 1e-6)
                        usleep(10000);
        }
        assert_true(peak >= (double)kb / 1048576 - 1e-6);
}

static mtt_session *open_session(const char *label, const char *name)
{
        char path[256];
        harness_path(&H, name, path, sizeof(path));
        mtt_options o = {.socket_path = H.socket, .label = label};
        mtt_session *s;
        assert_int_equal(mtt_open(path, &o, &s), 0);
        return s;
}

static void test_session_from_open_to_its_end(void **state)
{
        /* A label a user chose: quote, backslash, newline stay inside one sample line. */
        mtt_session *s = open_session("train \"big\" \\ model\nrun 2", "one.csv");
        unsigned long long id = (unsigned long long)mtt_session_id(s);
        char line[512];
        snprintf(line, sizeof(line),
                 "mtt_session_info{id=\"%llu\",job_id=\"\",label=\"train \\\"big\\\" \\\\ "
                 "model\\nrun 2\",uid=\"%u\",scope=\"system\"} 1",
                 id, (unsigned)getuid());
        free(wait_for_line(line));
        snprintf(line, sizeof(line), "mtt_session_running{id=\"%llu\",job_id=\"\"} 1", id);
        free(wait_for_line(line));

        /* 512 MiB more until mttd saw it, then back: the peak stays, the value now goes
         * back. */
        assert_int_equal(harness_write_meminfo(meminfo, 1512 * MIB), 0);
        wait_for_peak(id, 512 * MIB);
        assert_int_equal(harness_write_meminfo(meminfo, 1000 * MIB), 0);
        usleep(100000);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);

        snprintf(
            line, sizeof(line),
            "mtt_session_ending{id=\"%llu\",job_id=\"\",ending=\"completed\",cause=\"none\"} 1",
            id);
        char *text = wait_for_line(line);
        snprintf(line, sizeof(line), "mtt_session_running{id=\"%llu\",job_id=\"\"} 0", id);
        assert_true(has_line(text, line));
        snprintf(line, sizeof(line), "mtt_session_peak_bytes{id=\"%llu\",job_id=\"\"} 536870912",
                 id);
        assert_true(has_line(text, line));
        snprintf(line, sizeof(line), "mtt_session_ram_bytes{id=\"%llu\",job_id=\"\"} 0", id);
        assert_true(has_line(text, line));
        snprintf(line, sizeof(line), "mtt_session_baseline_bytes{id=\"%llu\",job_id=\"\"} %lld", id,
                 1000 * MIB * 1024);
        assert_true(has_line(text, line));
        snprintf(line, sizeof(line), "mtt_session_end_time_seconds{id=\"%llu\",job_id=\"\"} ", id);
        assert_non_null(strstr(text, line));
        assert_true(has_line(text, "mttd_memory_used_bytes 1048576000"));
        free(text);

        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644); /* node_exporter's user reads it */
        only_the_file();
}

static void test_a_killed_client_is_counted(void **state)
{
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                mtt_session *s = open_session("killed", "killed.csv");
                (void)s;
                raise(SIGKILL);
                _exit(1);
        }
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        char *text =
            wait_for_line("mttd_sessions_ended_total{ending=\"crashed\",cause=\"signal\"} 1");
        assert_non_null(strstr(text, ",ending=\"crashed\",cause=\"signal\"} 1\n"));
        free(text);
}

/* What a reader must always see: the whole text, from the first family to the last. */
static bool whole(const char *text)
{
        static const char first[] = "# HELP mtt_session_info ";
        static const char last[] = "\nmttd_memory_used_bytes ";
        if (strncmp(text, first, strlen(first)) != 0)
                return false;
        const char *l = strstr(text, last);
        return l && strchr(l + 1, '\n') == text + strlen(text) - 1;
}

/* A reader loops over the file until SIGTERM; exits 0 when every read was whole and there
 * were many of them, else 1. */
static volatile sig_atomic_t reader_stop;

static void on_term(int sig)
{
        reader_stop = 1;
}

static void reader(void)
{
        signal(SIGTERM, on_term);
        /* A test that fails before it stops the reader leaves none behind. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        alarm(300);
        long reads = 0, torn = 0;
        while (!reader_stop) {
                char *text = harness_read_file(file);
                if (!text || !whole(text)) {
                        if (torn++ == 0)
                                fprintf(stderr, "torn read:\n%s\n", text ? text : "(missing)");
                } else {
                        reads++;
                }
                free(text);
        }
        fprintf(stderr, "reader: %ld whole reads, %ld torn\n", reads, torn);
        _exit(torn == 0 && reads >= 100 ? 0 : 1);
}

static unsigned long long opened_total(const char *text)
{
        const char *p = strstr(text, "\nmttd_sessions_opened_total ");
        return p ? strtoull(p + strlen("\nmttd_sessions_opened_total "), NULL, 10) : 0;
}

static void test_never_torn(void **state)
{
        char *text = harness_read_file(file);
        assert_non_null(text);
        unsigned long long before = opened_total(text);
        free(text);

        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0)
                reader();
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        assert_true(null >= 0);
        /* Each Open and each end makes a write (within 0.1 s): hundreds of them. */
        unsigned long long seen = before, changes = 0;
        for (int i = 0; i < 1000; i++) {
                mtt_options o = {.socket_path = H.socket, .label = "loop"};
                mtt_session *s;
                assert_int_equal(mtt_open_fd(null, &o, &s), 0);
                assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
                if (i % 50 == 0 && (text = harness_read_file(file))) {
                        unsigned long long now = opened_total(text);
                        changes += now != seen;
                        seen = now;
                        free(text);
                }
        }
        close(null);
        char line[128];
        snprintf(line, sizeof(line), "mttd_sessions_opened_total %llu", before + 1000);
        free(wait_for_line(line));
        kill(child, SIGTERM);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* The file moved along while the loop ran, not only at its end. */
        assert_true(changes >= 2);
        only_the_file();
}

/* Whether a line of text has a, then b. */
static bool line_with(const char *text, const char *a, const char *b)
{
        for (const char *p = strstr(text, a); p; p = strstr(p + 1, a)) {
                const char *end = strchr(p, '\n');
                const char *q = strstr(p, b);
                if (q && (!end || q < end))
                        return true;
        }
        return false;
}

/* The directory goes away: mttd says so once and goes on serving; back, the file is too. */
static void test_directory_gone_and_back(void **state)
{
        char moved[160];
        snprintf(moved, sizeof(moved), "%s.moved", dir);
        assert_int_equal(rename(dir, moved), 0);
        mtt_session *s = open_session("while gone", "gone.csv");
        unsigned long long id = (unsigned long long)mtt_session_id(s);
        char *log = NULL;
        for (int i = 0; i < 500; i++) {
                free(log);
                log = harness_read_file(H.log);
                if (log && line_with(log, "metrics file ", ": No such file or directory"))
                        break;
                usleep(10000);
        }
        /* At its create, or at its rename when a write was out as the directory went. */
        assert_true(log && line_with(log, "metrics file ", ": No such file or directory"));
        free(log);
        assert_true(harness_session_completes(&H, "served.csv"));
        assert_int_equal(rename(moved, dir), 0);
        assert_int_equal(mtt_close(s, MTT_COMPLETED), 0);
        char line[128];
        snprintf(line, sizeof(line), "mtt_session_running{id=\"%llu\",job_id=\"\"} 0", id);
        free(wait_for_line(line));
        only_the_file();
}

/* Left running for the stop (main). */
static mtt_session *left;
static unsigned long long left_id;

static void test_leave_one_running(void **state)
{
        left = open_session("left", "left.csv");
        left_id = (unsigned long long)mtt_session_id(left);
        char line[128];
        snprintf(line, sizeof(line), "mtt_session_running{id=\"%llu\",job_id=\"\"} 1", left_id);
        free(wait_for_line(line));
}

/* mttd stopped: the file's last write says the session that ran ended, as its report does. */
static int stop_says_it_ended(void)
{
        int status = harness_stop(&H, true);
        if (left) /* its mttd is gone: the close fails, and frees it */
                mtt_close(left, MTT_COMPLETED);
        char *text = harness_read_file(file);
        char line[160];
        snprintf(line, sizeof(line),
                 "mtt_session_ending{id=\"%llu\",job_id=\"\",ending=\"crashed\",cause=\"none\"} 1",
                 left_id);
        bool ok = status == 0 && text && has_line(text, line) &&
                  has_line(text, "mttd_sessions_running 0");
        if (!ok)
                fprintf(stderr, "after the stop (exit %d), the metrics file has:\n%s\n", status,
                        text ? text : "(none)");
        free(text);
        unlink(file);
        rmdir(dir);
        unlink(meminfo);
        return ok ? 0 : 1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_session_from_open_to_its_end),
            cmocka_unit_test(test_a_killed_client_is_counted),
            cmocka_unit_test(test_never_torn),
            cmocka_unit_test(test_directory_gone_and_back),
            cmocka_unit_test(test_leave_one_running),
        };
        int failed = cmocka_run_group_tests(tests, start, NULL);
        return stop_says_it_ended() || failed > 0 ? 1 : 0;
}

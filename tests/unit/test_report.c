/* Unit tests for the client's report reader (client/lib/report.c): what is a report and what
 * is not, the verdicts (mtt_report_verdict_of and the three bools), and answers that never
 * block, whatever the path names. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <mtt/client.h>

#include "client/lib/report.h"

#define HEADER "delta,ram\n"
#define ROWS   "0.000000,0.000412\n0.001003,0.000415\n12.503121,1.862113\n"

typedef struct dir_state {
        char dir[64];
        char path[128]; /* the report */
        char other[96]; /* a FIFO or a socket (its path fits a sockaddr_un) */
} dir_state;

static int dir_setup(void **state)
{
        dir_state *d = calloc(1, sizeof(*d));
        if (!d)
                return -1;
        snprintf(d->dir, sizeof(d->dir), "/tmp/mtt-unit-report-XXXXXX");
        if (!mkdtemp(d->dir))
                return -1;
        snprintf(d->path, sizeof(d->path), "%s/report.csv", d->dir);
        snprintf(d->other, sizeof(d->other), "%s/other", d->dir);
        *state = d;
        return 0;
}

static int dir_teardown(void **state)
{
        dir_state *d = *state;
        unlink(d->path);
        unlink(d->other);
        rmdir(d->dir);
        free(d);
        return 0;
}

static const char *write_bytes(void **state, const char *bytes, size_t len)
{
        dir_state *d = *state;
        int fd = open(d->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, len), (ssize_t)len);
        assert_int_equal(close(fd), 0);
        return d->path;
}

static const char *write_report(void **state, const char *text)
{
        return write_bytes(state, text, strlen(text));
}

/* The reader's answer for path: not a report, for this reason. */
static void expect_reason(const char *path, const char *reason)
{
        mtt_report r;
        assert_int_equal(mtt_report_read(path, true, &r), 0);
        if (r.verdict != MTT_REPORT_NOT_A_REPORT)
                fail_msg("verdict %d for %s, want not a report", (int)r.verdict, path);
        assert_string_equal(r.reason, reason);
        assert_null(r.t);
        mtt_report_verdict v = (mtt_report_verdict)-1;
        assert_int_equal(mtt_report_verdict_of(path, &v), 0);
        assert_int_equal(v, MTT_REPORT_NOT_A_REPORT);
        assert_false(mtt_has_completed_successfully(path));
        assert_false(mtt_has_crashed_gracefully(path));
        assert_false(mtt_has_crashed_ungracefully(path));
}

static void expect_not(void **state, const char *text, const char *reason)
{
        expect_reason(write_report(state, text), reason);
}

/* The verdict of a report with this text, and the three bools agreeing with it. */
static void expect(void **state, const char *text, mtt_report_verdict want)
{
        const char *path = write_report(state, text);
        mtt_report_verdict v = (mtt_report_verdict)-1;
        assert_int_equal(mtt_report_verdict_of(path, &v), 0);
        if (v != want)
                fail_msg("verdict %d for %s, want %d", (int)v, text, (int)want);
        assert_int_equal(mtt_has_completed_successfully(path), want == MTT_REPORT_COMPLETED);
        assert_int_equal(mtt_has_crashed_gracefully(path), want == MTT_REPORT_CRASHED_GRACEFULLY);
        assert_int_equal(mtt_has_crashed_ungracefully(path),
                         want == MTT_REPORT_CRASHED_UNGRACEFULLY);
}

static void test_completed(void **state)
{
        expect(state, HEADER ROWS "0,0\n", MTT_REPORT_COMPLETED);
        expect(state, HEADER "0.000000,0.000000\n0,0\n", MTT_REPORT_COMPLETED);
        expect(state, HEADER ROWS "0,0", MTT_REPORT_COMPLETED); /* no trailing newline */
}

static void test_crashed_gracefully(void **state)
{
        expect(state, HEADER ROWS "0,0\n-1,-1\n", MTT_REPORT_CRASHED_GRACEFULLY);
        expect(state, HEADER ROWS "0,0\n-1,-1", MTT_REPORT_CRASHED_GRACEFULLY);
}

static void test_crashed_ungracefully(void **state)
{
        expect(state, HEADER ROWS, MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER ROWS "13.000000,1.900000", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER, MTT_REPORT_CRASHED_UNGRACEFULLY); /* died right after Open */
        expect(state, "delta,ram", MTT_REPORT_CRASHED_UNGRACEFULLY);
        /* Data rows that look close to the endings are still data. */
        expect(state, HEADER "0.000000,0.000000\n", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER "0.000000,-1.000000\n", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER "0,0\n1.000000,0.5\n", MTT_REPORT_CRASHED_UNGRACEFULLY);
        /* Only the last line decides, whatever came before it. */
        expect(state, HEADER "0,0\n-1,-1\n5.000000,0.100000\n", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER "-1,-1\n0,0\n", MTT_REPORT_COMPLETED);
        expect(state, HEADER "0,0\n-1,-1\n0,0\n", MTT_REPORT_COMPLETED);
}

static void test_long_report(void **state)
{
        /* Only the tail matters, however long the file. */
        size_t rows = 20000, len = strlen(HEADER) + rows * 20 + 16;
        char *text = malloc(len);
        assert_non_null(text);
        size_t off = (size_t)snprintf(text, len, HEADER);
        for (size_t i = 0; i < rows; i++)
                off += (size_t)snprintf(text + off, len - off, "%zu.000000,1.000000\n", i % 10);
        expect(state, text, MTT_REPORT_CRASHED_UNGRACEFULLY);
        snprintf(text + off, len - off, "0,0\n");
        expect(state, text, MTT_REPORT_COMPLETED);
        snprintf(text + off, len - off, "0,0\n-1,-1\n");
        expect(state, text, MTT_REPORT_CRASHED_GRACEFULLY);
        free(text);
}

#define FIRST "the first line is not \"delta,ram\""
/* A line that is no row, a NaN or an infinity too: not the header's fault. */
#define NO_ROW(n) "line " #n " is not a data row of two finite numbers"

static void test_not_a_report(void **state)
{
        expect_not(state, "", "the file is empty");
        expect_not(state, " \n\t\r\n\n", "the file is empty");
        expect_not(state, "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1::/:/sbin/nologin\n", FIRST);
        expect_not(state, "delta,ram \n0,0\n", FIRST);
        expect_not(state, "\ndelta,ram\n0,0\n", FIRST);
        expect_not(state, "delta,ram\r\r\n0,0\n", FIRST);
        expect_not(state, "delta,ram,x\n0,0\n", FIRST);
        expect_not(state, "0,0\n", FIRST);
        /* A line that is no row, with more after it. */
        expect_not(state, HEADER "0.1,0.2\nabc,0.3\n0.3,0.4\n", NO_ROW(3));
        expect_not(state, HEADER "0.1,0.2\n4.0\n\n 0,0\n", NO_ROW(3));
        expect_not(state, HEADER "1e400,0.3\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "nan,0.3\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "0.1,inf\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "0.1,nan\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "0.1,0.2,0.3\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "0.1;0.2\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "\v0.1,0.2\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "0.1,0.2\r\r\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "0.1,\n0,0\n", NO_ROW(2));
        expect_not(state, HEADER "\n\n0.1,0.2\n,\n0,0\n", NO_ROW(5));
        static const char nul[] = HEADER "0.1\0,0.2\n0,0\n";
        expect_reason(write_bytes(state, nul, sizeof(nul) - 1), NO_ROW(2));
}

/* Rows as the seed and other writers make them: CRLF, blank lines, blanks around numbers,
 * any of strtod's forms, any length. */
static void test_rows_of_every_form(void **state)
{
        expect(state, "delta,ram\r\n0.1,0.2\r\n0,0\r\n", MTT_REPORT_COMPLETED);
        expect(state, "delta,ram\r\n0.1,0.2\r\n0,0\r\n-1,-1\r\n\r\n",
               MTT_REPORT_CRASHED_GRACEFULLY);
        expect(state, HEADER ROWS "0,0\n\n \n\t\n", MTT_REPORT_COMPLETED);
        expect(state, HEADER "\n 0.1 ,\t0.2\t\n\n0,0 \n", MTT_REPORT_COMPLETED);
        expect(state, HEADER "1.,.5\n-0,+0\n1e-400,1E+3\n0x1.8p1,-0X.8\n0,0\n",
               MTT_REPORT_COMPLETED);
        expect(state, HEADER "0.1000000000000000055511151231257827021181583404541015625,0.5\n",
               MTT_REPORT_CRASHED_UNGRACEFULLY);
        /* " 0,0" is a row, but not the seed's ending. */
        expect(state, HEADER " 0,0\n", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER "0.0,0.0\n", MTT_REPORT_CRASHED_UNGRACEFULLY);
}

/* No line is too long: a 300-digit number, a 4000-byte row, a million-byte one. */
static void test_long_rows(void **state)
{
        size_t len = 1100000;
        char *text = malloc(len);
        assert_non_null(text);
        static const size_t sizes[] = {300, 4000, 1000000};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                size_t digits = sizes[i];
                size_t off = (size_t)snprintf(text, len, HEADER "1");
                memset(text + off, '0', digits - 1);
                off += digits - 1;
                snprintf(text + off, len - off, ".5,0.25\n0,0\n");
                if (digits == 300) {
                        expect(state, text, MTT_REPORT_COMPLETED);
                        mtt_report r;
                        assert_int_equal(mtt_report_read(write_report(state, text), true, &r), 0);
                        assert_int_equal(r.n, 2);
                        assert_true(r.t[0] == 1e299 && r.gib[0] == 0.25);
                        mtt_report_free(&r);
                } else { /* past DBL_MAX: a row of the right form, but not finite */
                        expect_not(state, text, NO_ROW(2));
                }
                off = (size_t)snprintf(text, len, HEADER "0.");
                memset(text + off, '0', digits);
                off += digits;
                snprintf(text + off, len - off, "1,0.25\n0,0\n");
                expect(state, text, MTT_REPORT_COMPLETED);
        }
        free(text);
}

/* A writer killed mid-line leaves the last line torn: skipped, and the run crashed. */
static void test_torn_last_line(void **state)
{
        expect(state, HEADER ROWS "4.02", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER ROWS "4.02,", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER ROWS "0,0\n-1,", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER "0.1,0.2\n4.0\n\n \n", MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, HEADER "4.0", MTT_REPORT_CRASHED_UNGRACEFULLY);
        mtt_report r;
        assert_int_equal(
            mtt_report_read(write_report(state, HEADER "0.1,0.2\n0.3,0.4\n0.5"), true, &r), 0);
        assert_int_equal(r.verdict, MTT_REPORT_CRASHED_UNGRACEFULLY);
        assert_int_equal(r.n, 2);
        assert_true(r.t[1] == 0.3 && r.gib[1] == 0.4);
        mtt_report_free(&r);
}

/* The rows, endings included; nothing is written on failure. */
static void test_read_rows(void **state)
{
        mtt_report r;
        assert_int_equal(mtt_report_read(write_report(state, HEADER ROWS "0,0\n-1,-1\n"), true, &r),
                         0);
        assert_int_equal(r.verdict, MTT_REPORT_CRASHED_GRACEFULLY);
        assert_int_equal(r.n, 5);
        assert_true(r.t[2] == 12.503121 && r.gib[2] == 1.862113);
        assert_true(r.t[4] == -1 && r.gib[4] == -1);
        mtt_report_free(&r);
        mtt_report_free(&r); /* twice, and NULL, are fine */
        mtt_report_free(NULL);
        assert_int_equal(mtt_report_read(write_report(state, HEADER ROWS), false, &r), 0);
        assert_int_equal(r.verdict, MTT_REPORT_CRASHED_UNGRACEFULLY);
        assert_null(r.t);
        dir_state *d = *state;
        unlink(d->path);
        r.n = 42;
        assert_int_equal(mtt_report_read(d->path, true, &r), -ENOENT);
        assert_int_equal(r.n, 42);
        assert_int_equal(mtt_report_read(NULL, true, &r), -EINVAL);
}

/* A file as big as a disk, with no newline: refused after its first bytes. */
static void test_big_file_without_newline(void **state)
{
        dir_state *d = *state;
        int fd = open(d->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)1 << 36), 0); /* sparse: 64 GiB of zeros */
        assert_int_equal(close(fd), 0);
        alarm(10);
        expect_reason(d->path, FIRST);
        alarm(0);
}

/* A FIFO without a writer would block open() forever: the answer comes at once. */
static void test_fifo(void **state)
{
        dir_state *d = *state;
        assert_int_equal(mkfifo(d->other, 0600), 0);
        alarm(10); /* a hang fails the test here, not at ctest's timeout */
        expect_reason(d->other, "not a regular file");
        alarm(0);
}

static void test_socket_and_devices(void **state)
{
        dir_state *d = *state;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", d->other);
        assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        alarm(10);
        expect_reason(d->other, "not a regular file");
        expect_reason("/dev/zero", "not a regular file");
        expect_reason("/dev/null", "not a regular file");
        alarm(0);
        close(fd);
}

static void test_missing_file(void **state)
{
        dir_state *d = *state;
        mtt_report_verdict v;
        assert_int_equal(mtt_report_verdict_of(d->path, &v), -ENOENT);
        assert_false(mtt_has_completed_successfully(d->path));
        assert_false(mtt_has_crashed_gracefully(d->path));
        assert_false(mtt_has_crashed_ungracefully(d->path));
}

static void test_directory(void **state)
{
        dir_state *d = *state;
        mtt_report_verdict v;
        int r = mtt_report_verdict_of(d->dir, &v);
        assert_true(r < 0);
        assert_int_equal(r, -EISDIR);
        assert_false(mtt_has_completed_successfully(d->dir));
        assert_false(mtt_has_crashed_gracefully(d->dir));
        assert_false(mtt_has_crashed_ungracefully(d->dir));
}

static void test_bad_arguments(void **state)
{
        mtt_report_verdict v;
        assert_int_equal(mtt_report_verdict_of(NULL, &v), -EINVAL);
        assert_int_equal(mtt_report_verdict_of(write_report(state, HEADER "0,0\n"), NULL), -EINVAL);
        assert_false(mtt_has_completed_successfully(NULL));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dir_setup, dir_teardown)
        const struct CMUnitTest tests[] = {
            T(test_completed),
            T(test_crashed_gracefully),
            T(test_crashed_ungracefully),
            T(test_long_report),
            T(test_not_a_report),
            T(test_rows_of_every_form),
            T(test_long_rows),
            T(test_torn_last_line),
            T(test_read_rows),
            T(test_big_file_without_newline),
            T(test_fifo),
            T(test_socket_and_devices),
            T(test_missing_file),
            T(test_directory),
            T(test_bad_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

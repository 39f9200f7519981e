/* Unit tests for the client's report verdicts (mtt_report_verdict_of and the three bools). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <mtt/client.h>

#define HEADER "delta,ram\n"
#define ROWS   "0.000000,0.000412\n0.001003,0.000415\n12.503121,1.862113\n"

typedef struct dir_state {
        char dir[64];
        char path[128];
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
        *state = d;
        return 0;
}

static int dir_teardown(void **state)
{
        dir_state *d = *state;
        unlink(d->path);
        rmdir(d->dir);
        free(d);
        return 0;
}

static const char *write_report(void **state, const char *text)
{
        dir_state *d = *state;
        int fd = open(d->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(close(fd), 0);
        return d->path;
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
        expect(state, HEADER, MTT_REPORT_CRASHED_UNGRACEFULLY);
        expect(state, "", MTT_REPORT_CRASHED_UNGRACEFULLY);
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
            T(test_completed),     T(test_crashed_gracefully), T(test_crashed_ungracefully),
            T(test_long_report),   T(test_missing_file),       T(test_directory),
            T(test_bad_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

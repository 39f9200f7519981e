/* Unit tests for mttctl's plot pieces: report files into series (client/mttctl/series.c)
 * and the chart drawn with cairo into an image (client/mttctl/chart.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "chart.h"
#include "series.h"

static char dir[] = "/tmp/mtt-chart-XXXXXX";

static const char *write_report(const char *name, const char *text)
{
        static char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return path;
}

static void test_series_endings(void **state)
{
        mttctl_series s;
        char err[160];
        const char *p = write_report("done.csv", "delta,ram\n0.000000,0.1\n1.500000,0.25\n0,0\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), 0);
        assert_string_equal(s.name, "done");
        assert_int_equal(s.verdict, MTT_REPORT_COMPLETED);
        assert_int_equal(s.n, 2); /* the sentinel is no point */
        assert_true(s.t[1] == 1.5 && s.gib[1] == 0.25);
        mttctl_series_free(&s);

        p = write_report("failed.csv", "delta,ram\n0.000000,0.1\n2.000000,-0.5\n0,0\n-1,-1\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), 0);
        assert_int_equal(s.verdict, MTT_REPORT_CRASHED_GRACEFULLY);
        assert_int_equal(s.n, 2);
        assert_true(s.gib[1] == -0.5);
        mttctl_series_free(&s);

        p = write_report("killed", "delta,ram\n0.000000,0.1\n0.001000,0.2\n0.002000,0.3\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), 0);
        assert_int_equal(s.verdict, MTT_REPORT_CRASHED_UNGRACEFULLY);
        assert_string_equal(s.name, "killed");
        assert_int_equal(s.n, 3);
        mttctl_series_free(&s);
}

/* A run killed mid-write may leave its last line torn: that line alone is skipped. */
static void test_series_torn_last_line(void **state)
{
        mttctl_series s;
        char err[160];
        const char *p = write_report("torn.csv", "delta,ram\n0.1,0.2 \n0.2,0.3\n4.02");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), 0);
        assert_int_equal(s.verdict, MTT_REPORT_CRASHED_UNGRACEFULLY);
        assert_int_equal(s.n, 2);
        mttctl_series_free(&s);
}

/* The seed's own files: Python's float text, a first row "0,...", a blank last line. */
static void test_series_from_the_seed(void **state)
{
        mttctl_series s;
        char err[160];
        const char *p = write_report("seed.csv", "delta,ram\n0,0.012\n0.10012340400012,"
                                                 "1.5e-05\n2.013318768,0.498\n0,0\n\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), 0);
        assert_int_equal(s.verdict, MTT_REPORT_COMPLETED);
        assert_int_equal(s.n, 3);
        assert_true(s.t[0] == 0 && s.gib[1] == 1.5e-05);
        mttctl_series_free(&s);
}

static void test_series_refuses_what_is_not_a_report(void **state)
{
        mttctl_series s;
        char err[160];
        const char *p = write_report("text.csv", "hello\nworld\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "not a report"));
        p = write_report("bad-row.csv", "delta,ram\n0.1,0.2\nabc,0.3\n0.3,0.4\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "line 3"));
        p = write_report("infinite.csv", "delta,ram\n0.1,0.2\n1e400,0.3\n0,0\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), -EINVAL);
        p = write_report("empty.csv", "");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "not a report: the file is empty");
        p = write_report("passwd", "root:x:0:0:root:/root:/bin/bash\n");
        assert_int_equal(mttctl_series_read(p, &s, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "not a report: the first line is not \"delta,ram\"");
        assert_int_equal(mttctl_series_read(dir, &s, err, sizeof(err)), -EISDIR);
        assert_string_equal(err, "Is a directory");
        assert_int_equal(mttctl_series_read("/nonexistent/x.csv", &s, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "no such file"));
}

/* A report of no data rows is one (check has its verdict): a series of no points. */
static void test_series_without_data_rows(void **state)
{
        static const struct {
                const char *text;
                mtt_report_verdict verdict;
        } cases[] = {
            {"delta,ram\n", MTT_REPORT_CRASHED_UNGRACEFULLY}, /* killed right after Open */
            {"delta,ram\n\n", MTT_REPORT_CRASHED_UNGRACEFULLY},
            {"delta,ram\n0,0\n", MTT_REPORT_COMPLETED},
            {"delta,ram\n0,0\n-1,-1\n", MTT_REPORT_CRASHED_GRACEFULLY},
            {"delta,ram\n-1,-1\n", MTT_REPORT_CRASHED_GRACEFULLY},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                mttctl_series s;
                char err[160] = "";
                const char *p = write_report("rowless.csv", cases[i].text);
                if (mttctl_series_read(p, &s, err, sizeof(err)) != 0)
                        fail_msg("case %zu: %s", i, err);
                assert_string_equal(s.name, "rowless");
                assert_int_equal(s.verdict, cases[i].verdict);
                assert_int_equal(s.n, 0);
                mttctl_series_free(&s);
        }
}

/* A row of any length: 400 bytes here, where a 256-byte buffer once split it in two. */
static void test_series_long_row(void **state)
{
        char text[600], digits[401];
        memset(digits, '0', 400);
        digits[400] = '\0';
        snprintf(text, sizeof(text), "delta,ram\n0.1,0.2\n0.%s1,0.5\n1.5,0.25\n0,0\n", digits);
        mttctl_series s;
        char err[160];
        assert_int_equal(mttctl_series_read(write_report("long.csv", text), &s, err, sizeof(err)),
                         0);
        assert_int_equal(s.verdict, MTT_REPORT_COMPLETED);
        assert_int_equal(s.n, 3);
        assert_true(s.gib[1] == 0.5 && s.t[2] == 1.5);
        mttctl_series_free(&s);
}

/* A FIFO without a writer: an error at once, not an open() that waits forever. */
static void test_series_fifo(void **state)
{
        char path[128], err[160];
        snprintf(path, sizeof(path), "%s/fifo", dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        mttctl_series s;
        alarm(10); /* a hang fails the test here, not at ctest's timeout */
        assert_int_equal(mttctl_series_read(path, &s, err, sizeof(err)), -EINVAL);
        alarm(0);
        assert_string_equal(err, "not a report: not a regular file");
}

static void test_time_labels(void **state)
{
        static const struct {
                double s;
                const char *label;
        } cases[] = {{0, "0"},     {1e-4, "100us"}, {1e-3, "1ms"}, {0.5, "500ms"},
                     {1, "1s"},    {10, "10s"},     {60, "1min"},  {600, "10min"},
                     {3600, "1h"}, {36000, "10h"},  {86400, "1d"}, {1.5, "1.5s"}};
        char buf[32];
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                mttctl_chart_time_label(cases[i].s, buf, sizeof(buf));
                assert_string_equal(buf, cases[i].label);
        }
}

/* Pixels within a small distance of a colour: the lines' (and legend's) own, outside the
 * top left corner of w0 x h0 pixels (where the legend is). */
static int pixels_outside(cairo_surface_t *img, const double rgb[3], int w0, int h0)
{
        int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
        int stride = cairo_image_surface_get_stride(img), n = 0;
        const unsigned char *data = cairo_image_surface_get_data(img);
        for (int y = 0; y < h; y++)
                for (int x = y < h0 ? w0 : 0; x < w; x++) {
                        uint32_t px = *(const uint32_t *)(data + y * stride + x * 4);
                        int r = (px >> 16) & 0xff, g = (px >> 8) & 0xff, b = px & 0xff;
                        int dr = r - (int)(rgb[0] * 255), dg = g - (int)(rgb[1] * 255),
                            db = b - (int)(rgb[2] * 255);
                        n += dr * dr + dg * dg + db * db < 3 * 12 * 12;
                }
        return n;
}

static int pixels_of(cairo_surface_t *img, const double rgb[3])
{
        return pixels_outside(img, rgb, 0, 0);
}

static void test_chart_draws_every_series(void **state)
{
        static double t[] = {0, 0.001, 0.01, 0.1, 1, 10};
        static double a[] = {0, 0.1, 0.2, 0.3, 0.2, 0.1}, b[] = {0.5, 0.4, 0.6, 0.8, 1.2, 1.0},
                      c[] = {-0.1, 0, 0.1, 0.1, 0.1, 0.05};
        mttctl_series s[] = {
            {.name = "a", .t = t, .gib = a, .n = 6, .verdict = MTT_REPORT_COMPLETED},
            {.name = "b", .t = t, .gib = b, .n = 6, .verdict = MTT_REPORT_CRASHED_GRACEFULLY},
            {.name = "c", .t = t, .gib = c, .n = 6, .verdict = MTT_REPORT_CRASHED_UNGRACEFULLY},
        };
        for (int linear = 0; linear < 2; linear++) {
                cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 800, 500);
                cairo_t *cr = cairo_create(img);
                mttctl_chart chart = {.width = 800, .height = 500, .linear = linear};
                mttctl_chart_draw(cr, &chart, s, 3);
                cairo_destroy(cr);
                /* Through a PNG file and back, as mttctl plot writes it. */
                char png[128];
                snprintf(png, sizeof(png), "%s/chart.png", dir);
                assert_int_equal(cairo_surface_write_to_png(img, png), CAIRO_STATUS_SUCCESS);
                cairo_surface_destroy(img);
                img = cairo_image_surface_create_from_png(png);
                assert_int_equal(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
                assert_int_equal(cairo_image_surface_get_width(img), 800);
                double rgb[3];
                for (size_t i = 0; i < 3; i++) {
                        mttctl_chart_colour(i, rgb);
                        assert_true(pixels_of(img, rgb) > 100);
                }
                /* A fourth colour was not drawn. */
                mttctl_chart_colour(3, rgb);
                assert_int_equal(pixels_of(img, rgb), 0);
                cairo_surface_destroy(img);
        }
}

/* Values near DBL_MAX, subnormal ones, flat lines: every chart is drawn, log and linear, in
 * bounded time (once the tick loops never ended) and with the series' last point in it. */
static void test_chart_extreme_values(void **state)
{
        static double t_huge[] = {0, 1, 1.79e308}, y_huge[] = {1.7e308, -1.7e308, 1.7e308};
        static double t_tiny[] = {4.9e-324, 1e-320}, y_tiny[] = {-4.9e-324, 1e-323};
        static double t_flat[] = {0, 1e300, 1.7e308}, y_flat[] = {1e300, 1e300, 1e300};
        static double t_zero[] = {0, 10}, y_zero[] = {0, 0};
        static double t_late[] = {1.79e308}, y_late[] = {-1.79e308};
        /* Crashes: their last point gets an "x", wide enough to count whatever the line. */
#define X MTT_REPORT_CRASHED_UNGRACEFULLY
        const mttctl_series cases[][1] = {
            {{.name = "huge", .t = t_huge, .gib = y_huge, .n = 3, .verdict = X}},
            {{.name = "tiny", .t = t_tiny, .gib = y_tiny, .n = 2, .verdict = X}},
            {{.name = "flat", .t = t_flat, .gib = y_flat, .n = 3, .verdict = X}},
            {{.name = "zero", .t = t_zero, .gib = y_zero, .n = 2, .verdict = X}},
            {{.name = "late", .t = t_late, .gib = y_late, .n = 1, .verdict = X}},
        };
#undef X
        alarm(30); /* a hang fails the test here, not at ctest's timeout */
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                for (int linear = 0; linear < 2; linear++) {
                        cairo_surface_t *img =
                            cairo_image_surface_create(CAIRO_FORMAT_RGB24, 400, 300);
                        cairo_t *cr = cairo_create(img);
                        mttctl_chart chart = {.width = 400, .height = 300, .linear = linear};
                        mttctl_chart_draw(cr, &chart, cases[i], 1);
                        assert_int_equal(cairo_status(cr), CAIRO_STATUS_SUCCESS);
                        cairo_destroy(cr);
                        cairo_surface_flush(img);
                        double rgb[3];
                        mttctl_chart_colour(0, rgb);
                        if (pixels_outside(img, rgb, 250, 100) < 5) /* not the legend's */
                                fail_msg("%s (%s): no line", cases[i][0].name,
                                         linear ? "linear" : "log");
                        cairo_surface_destroy(img);
                }
        alarm(0);
}

/* A series of no points draws no line, only its legend entry (with its crash mark); a chart of
 * nothing but such series is empty axes. */
static void test_chart_without_data_rows(void **state)
{
        static double t[] = {0, 0.5, 1}, y[] = {0.1, 0.3, 0.2};
        const mttctl_series s[] = {
            {.name = "header", .verdict = MTT_REPORT_CRASHED_UNGRACEFULLY},
            {.name = "line", .t = t, .gib = y, .n = 3, .verdict = MTT_REPORT_COMPLETED},
        };
        for (size_t n = 1; n <= 2; n++)
                for (int linear = 0; linear < 2; linear++) {
                        cairo_surface_t *img =
                            cairo_image_surface_create(CAIRO_FORMAT_RGB24, 800, 500);
                        cairo_t *cr = cairo_create(img);
                        mttctl_chart chart = {.width = 800, .height = 500, .linear = linear};
                        mttctl_chart_draw(cr, &chart, s, n);
                        assert_int_equal(cairo_status(cr), CAIRO_STATUS_SUCCESS);
                        cairo_destroy(cr);
                        cairo_surface_flush(img);
                        double rgb[3];
                        mttctl_chart_colour(0, rgb);
                        assert_true(pixels_of(img, rgb) > 20);                   /* in the legend */
                        assert_int_equal(pixels_outside(img, rgb, 250, 140), 0); /* no more */
                        mttctl_chart_colour(1, rgb);
                        if (n == 2)
                                assert_true(pixels_outside(img, rgb, 250, 140) > 100);
                        cairo_surface_destroy(img);
                }
}

static int setup(void **state)
{
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        mttctl_chart_done();
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_series_endings),
            cmocka_unit_test(test_series_from_the_seed),
            cmocka_unit_test(test_series_torn_last_line),
            cmocka_unit_test(test_series_refuses_what_is_not_a_report),
            cmocka_unit_test(test_series_without_data_rows),
            cmocka_unit_test(test_series_long_row),
            cmocka_unit_test(test_series_fifo),
            cmocka_unit_test(test_time_labels),
            cmocka_unit_test(test_chart_draws_every_series),
            cmocka_unit_test(test_chart_extreme_values),
            cmocka_unit_test(test_chart_without_data_rows),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

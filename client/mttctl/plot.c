/* mttctl plot: reports into a PNG, SVG or PDF chart (the format from OUT's extension). */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "mttctl.h"
#include "series.h"
#include "table.h"

typedef enum { FORMAT_PNG, FORMAT_SVG, FORMAT_PDF } format;

static bool format_of(const char *path, format *out)
{
        const char *dot = strrchr(path, '.');
        if (!dot)
                return false;
        if (strcasecmp(dot, ".png") == 0)
                *out = FORMAT_PNG;
        else if (strcasecmp(dot, ".svg") == 0)
                *out = FORMAT_SVG;
        else if (strcasecmp(dot, ".pdf") == 0)
                *out = FORMAT_PDF;
        else
                return false;
        return true;
}

static bool parse_size(const char *s, mttctl_chart *c)
{
        int w, h;
        char end;
        if (sscanf(s, "%dx%d%c", &w, &h, &end) != 2 || w < 200 || h < 150 || w > 10000 || h > 10000)
                return false;
        c->width = w;
        c->height = h;
        return true;
}

/* The output file, and the errno of its first failed write: cairo's own file output says
 * only "error while writing to output stream". */
typedef struct sink {
        FILE *f;
        int err;
} sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len)
{
        sink *k = closure;
        errno = 0;
        if (k->err == 0 && fwrite(data, 1, len, k->f) != len)
                k->err = errno ? errno : EIO;
        return k->err ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* Draws and writes the chart; returns 0 or prints why not. The file is opened before
 * anything is drawn, so that one that cannot be created is said at once, with the reason. */
static int render(const char *out, format f, const mttctl_chart *c, const mttctl_series *s,
                  size_t n)
{
        sink k = {.f = fopen(out, "we")};
        if (!k.f) {
                int err = errno;
                mttctl_error("cannot write %s: %s", out, strerror(err));
                return -err;
        }
        cairo_surface_t *surface =
            f == FORMAT_PNG
                ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)c->width, (int)c->height)
            : f == FORMAT_SVG
                ? cairo_svg_surface_create_for_stream(sink_write, &k, c->width, c->height)
                : cairo_pdf_surface_create_for_stream(sink_write, &k, c->width, c->height);
        cairo_t *cr = cairo_create(surface);
        mttctl_chart_draw(cr, c, s, n);
        cairo_status_t st = cairo_status(cr); /* drawing stops at the first error */
        cairo_destroy(cr);
        if (st == CAIRO_STATUS_SUCCESS && f == FORMAT_PNG)
                st = cairo_surface_write_to_png_stream(surface, sink_write, &k);
        cairo_surface_finish(surface);
        if (st == CAIRO_STATUS_SUCCESS)
                st = cairo_surface_status(surface);
        cairo_surface_destroy(surface);
        errno = 0;
        if (fclose(k.f) != 0 && k.err == 0) /* what was still buffered */
                k.err = errno ? errno : EIO;
        if (st != CAIRO_STATUS_SUCCESS || k.err) {
                mttctl_error("cannot write %s: %s", out,
                             k.err ? strerror(k.err) : cairo_status_to_string(st));
                return -EIO;
        }
        return 0;
}

static const char plot_usage[] =
    "Usage: mttctl plot FILE... -o OUT.png|svg|pdf [--linear] [--title T] [--size WxH]\n"
    "Draws memory over time, one line per report in its own colour, each crash's last\n"
    "point marked with an \"x\" and its ending in the legend. Reports are read as check\n"
    "reads them; one without data rows is drawn as no line, only named in the legend.\n"
    "\n"
    "  -o, --output OUT   the chart: PNG, SVG or PDF, from OUT's extension\n"
    "      --linear       a linear time axis (default: log)\n"
    "      --title T      a title above the chart\n"
    "      --size WxH     its size (default: 1000x600; from 200x150 to 10000x10000)\n"
    "  -h, --help         show this help\n";

int mttctl_plot(int argc, char **argv)
{
        static const struct option opts[] = {
            {"output", required_argument, NULL, 'o'}, {"linear", no_argument, NULL, 'l'},
            {"title", required_argument, NULL, 't'},  {"size", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},         {0},
        };
        mttctl_chart chart = {.width = 1000, .height = 600};
        const char *out = NULL;
        int c;
        while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(plot_usage, stdout);
                        return MTTCTL_OK;
                case 'o':
                        out = optarg;
                        break;
                case 'l':
                        chart.linear = true;
                        break;
                case 't':
                        chart.title = optarg;
                        break;
                case 's':
                        if (!parse_size(optarg, &chart))
                                return mttctl_usage_error("plot: --size takes WIDTHxHEIGHT, "
                                                          "from 200x150 to 10000x10000");
                        break;
                case ':':
                        return mttctl_usage_error("plot: option '%s' needs an argument",
                                                  argv[optind - 1]);
                default:
                        return mttctl_usage_error("plot: unknown option '%s'", argv[optind - 1]);
                }
        }
        format f;
        if (!out)
                return mttctl_usage_error("plot: -o OUT.png|svg|pdf is required");
        if (!format_of(out, &f))
                return mttctl_usage_error("plot: '%s' does not end in .png, .svg or .pdf", out);
        size_t n = (size_t)(argc - optind);
        if (n == 0)
                return mttctl_usage_error("plot: no report files given");
        mttctl_series *series = calloc(n, sizeof(*series));
        if (!series)
                return MTTCTL_FAILURE;
        int ret = MTTCTL_OK;
        for (size_t i = 0; i < n && ret == MTTCTL_OK; i++) {
                char err[160];
                if (mttctl_series_read(argv[optind + i], &series[i], err, sizeof(err)) < 0) {
                        mttctl_error("%s: %s", argv[optind + i], err);
                        ret = MTTCTL_FAILURE;
                } else {
                        mtt_proto_printable(series[i].name); /* cairo takes UTF-8 only */
                }
        }
        char title[256];
        if (chart.title) {
                snprintf(title, sizeof(title), "%s", chart.title);
                mtt_proto_printable(title);
                chart.title = title;
        }
        if (ret == MTTCTL_OK && render(out, f, &chart, series, n) < 0)
                ret = MTTCTL_FAILURE;
        for (size_t i = 0; i < n; i++)
                mttctl_series_free(&series[i]);
        free(series);
        mttctl_chart_done();
        return ret;
}

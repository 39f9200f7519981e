/* The chart: axes, grid, lines, crash marks and legend. */
#include "chart.h"

#include <float.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MARGIN_LEFT   90.0
#define MARGIN_RIGHT  24.0
#define MARGIN_TOP    44.0
#define MARGIN_BOTTOM 56.0
#define FONT_SIZE     13.0
#define MARK_SIZE     5.0

/* The ten colours matplotlib calls "tab:", as the seed's plots use them. */
static const unsigned char palette[][3] = {
    {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
#define N_COLOURS (sizeof(palette) / sizeof(palette[0]))

void mttctl_chart_done(void)
{
        cairo_debug_reset_static_data();
        FcFini();
}

void mttctl_chart_colour(size_t i, double rgb[3])
{
        for (int k = 0; k < 3; k++)
                rgb[k] = palette[i % N_COLOURS][k] / 255.0;
}

void mttctl_chart_time_label(double s, char *buf, size_t size)
{
        static const struct {
                double unit;
                const char *name;
        } units[] = {{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}, {1e-3, "ms"}, {1e-6, "us"}};
        if (s == 0) {
                snprintf(buf, size, "0");
                return;
        }
        size_t i = 0;
        while (i + 1 < sizeof(units) / sizeof(units[0]) && s < units[i].unit * 0.999)
                i++;
        snprintf(buf, size, "%g%s", s / units[i].unit, units[i].name);
}

#define MAX_TICKS 32 /* per axis; the ranges make about eight */

/* Every position is computed so that no value, however near DBL_MAX or 0, overflows: the log
 * time axis is kept in decades, the memory axis in tick numbers. */
typedef struct axes {
        bool log_x;
        double x1;     /* linear time: 0 to x1 seconds */
        double d0, d1; /* log time: from 10^d0 to 10^d1 seconds */
        double step;   /* memory: GiB between ticks, tick k at k * step ... */
        double k0, k1; /* ... from tick k0 to tick k1 */
        double unit;   /* GiB per memory unit shown */
        const char *unit_name;
        double px0, px1, py0, py1; /* plot area, py0 at the bottom */
} axes;

/* A pixel position kept near the plot area: cairo's fixed-point coordinates overflow far
 * outside it, and lines are clipped to it anyway. */
static double keep_near(double v, double lo, double hi)
{
        double margin = 100 * (hi - lo);
        return fmin(fmax(v, lo - margin), hi + margin); /* NaN becomes lo - margin */
}

static double x_of(const axes *a, double t)
{
        double f;
        if (a->log_x) /* at least the left edge: delta 0 sits there */
                f = (fmax(t > 0 ? log10(t) : a->d0, a->d0) - a->d0) / (a->d1 - a->d0);
        else
                f = t / a->x1;
        return keep_near(a->px0 + f * (a->px1 - a->px0), a->px0, a->px1);
}

static double y_of(const axes *a, double gib)
{
        double f = (gib / a->step - a->k0) / (a->k1 - a->k0);
        return keep_near(a->py0 - f * (a->py0 - a->py1), a->py1, a->py0);
}

/* 1, 2 or 5 times a power of ten: about n steps over span (> 0). */
static double nice_step(double span, int n)
{
        double raw = span / n, p = pow(10, floor(log10(raw)));
        double f = raw / p;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static void set_time_range(axes *a, bool linear, double tmin_pos, double tmax)
{
        a->log_x = !linear;
        if (a->log_x) {
                /* Whole decades; delta 0 sits at the left edge. */
                if (!isfinite(tmin_pos))
                        tmin_pos = 1e-3;
                a->d0 = floor(log10(tmin_pos));
                a->d1 = ceil(tmax > tmin_pos ? log10(tmax) : log10(tmin_pos) + 1);
                if (a->d1 <= a->d0)
                        a->d1 = a->d0 + 1;
        } else { /* the last point off the edge */
                a->x1 = tmax > 0 ? fmin(tmax * 1.02, DBL_MAX) : 1;
        }
}

/* About six ticks of 1, 2 or 5 times a power of ten of the unit, from one at or below lo to
 * one at or above hi. The range holds 0 (lo <= 0 <= hi), so every value is within six steps
 * of it and gib / step stays small. */
static void set_memory_range(axes *a, double lo, double hi)
{
        double big = fmax(fabs(lo), fabs(hi));
        a->unit = big >= 1 ? 1 : big >= 1.0 / 1024 ? 1.0 / 1024 : 1.0 / (1024 * 1024);
        a->unit_name = big >= 1 ? "GiB" : big >= 1.0 / 1024 ? "MiB" : "KiB";
        /* Half the span never overflows, not even from -DBL_MAX to DBL_MAX. All zeros get one
         * unit; subnormal values at least a millionth of one, so the step is no subnormal (or
         * zero) itself. */
        double half = hi / 2 - lo / 2;
        if (half == 0)
                half = a->unit / 2;
        half = fmax(half, a->unit * 1e-6);
        a->step = nice_step(half / a->unit, 3) * a->unit;
        a->k0 = floor(lo / a->step);
        a->k1 = ceil(hi / a->step);
        if (a->k1 <= a->k0)
                a->k1 = a->k0 + 1;
}

static void set_ranges(axes *a, const mttctl_chart *c, const mttctl_series *s, size_t n)
{
        double tmin_pos = INFINITY, tmax = 0, ymin = 0, ymax = 0; /* both ranges hold 0 */
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < s[i].n; k++) {
                        double t = s[i].t[k], y = s[i].gib[k];
                        if (t > 0 && t < tmin_pos)
                                tmin_pos = t;
                        tmax = t > tmax ? t : tmax;
                        ymin = y < ymin ? y : ymin;
                        ymax = y > ymax ? y : ymax;
                }
        set_time_range(a, c->linear, tmin_pos, tmax);
        set_memory_range(a, ymin, ymax);
        a->px0 = MARGIN_LEFT;
        a->px1 = c->width - MARGIN_RIGHT;
        a->py0 = c->height - MARGIN_BOTTOM;
        a->py1 = MARGIN_TOP;
}

static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
        cairo_text_extents_t e;
        cairo_text_extents(cr, s, &e);
        cairo_move_to(cr, x - e.width * ax - e.x_bearing,
                      y + e.height * ay - (e.height + e.y_bearing));
        cairo_show_text(cr, s);
}

static void grid_line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, x0, y0);
        cairo_line_to(cr, x1, y1);
        cairo_stroke(cr);
}

static void time_tick(cairo_t *cr, const axes *a, double t)
{
        char label[32];
        double x = round(x_of(a, t)) + 0.5;
        grid_line(cr, x, a->py0, x, a->py1);
        mttctl_chart_time_label(t, label, sizeof(label));
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, label, x, a->py0 + 8, 0.5, 1);
}

static void draw_time_axis(cairo_t *cr, const axes *a)
{
        static const double log_ticks[] = {1e-6, 1e-5, 1e-4, 1e-3,  1e-2,  0.1,    1,      10,
                                           60,   600,  3600, 36000, 86400, 864000, 8640000};
        if (a->log_x) {
                for (size_t i = 0; i < sizeof(log_ticks) / sizeof(log_ticks[0]); i++) {
                        double d = log10(log_ticks[i]);
                        if (d >= a->d0 - 0.0005 && d <= a->d1 + 0.0005)
                                time_tick(cr, a, log_ticks[i]);
                }
        } else {
                static const double steps[] = {
                    1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2,  0.5,  1,    2,     5,     10,
                    15,   30,   60,   120,  300,  600,  900, 1800, 3600, 7200, 21600, 43200, 86400};
                /* Past the table: whole days, about eight ticks. */
                double step = ceil(a->x1 / 8 / 86400) * 86400;
                for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
                        if (a->x1 / steps[i] <= 8) {
                                step = steps[i];
                                break;
                        }
                /* Counted, not stepped to: near DBL_MAX a step may not move a double. */
                double n = fmin(floor(a->x1 / step * 1.0001), MAX_TICKS);
                for (int i = 0; i <= (int)n && isfinite(i * step); i++)
                        time_tick(cr, a, i * step);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, a->log_x ? "time (log scale)" : "time", (a->px0 + a->px1) / 2, a->py0 + 30, 0.5,
                1);
}

static void draw_memory_axis(cairo_t *cr, const axes *a)
{
        char label[48];
        double n = fmin(a->k1 - a->k0, MAX_TICKS);
        for (int i = 0; i <= (int)n; i++) {
                double py = round(a->py0 - i / (a->k1 - a->k0) * (a->py0 - a->py1)) + 0.5;
                grid_line(cr, a->px0, py, a->px1, py);
                double v = (a->k0 + i) * (a->step / a->unit);
                if (!isfinite(v)) /* a tick past DBL_MAX: its line, no label */
                        continue;
                snprintf(label, sizeof(label), "%g %s", fabs(v) < 1e-9 ? 0 : v, a->unit_name);
                cairo_set_source_rgb(cr, 0, 0, 0);
                text_at(cr, label, a->px0 - 8, py, 1, 0.5);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_save(cr);
        cairo_translate(cr, 18, (a->py0 + a->py1) / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, "memory used", 0, 0, 0.5, 0.5);
        cairo_restore(cr);
}

static void mark_x(cairo_t *cr, double x, double y)
{
        cairo_set_line_width(cr, 2.5);
        cairo_move_to(cr, x - MARK_SIZE, y - MARK_SIZE);
        cairo_line_to(cr, x + MARK_SIZE, y + MARK_SIZE);
        cairo_move_to(cr, x - MARK_SIZE, y + MARK_SIZE);
        cairo_line_to(cr, x + MARK_SIZE, y - MARK_SIZE);
        cairo_stroke(cr);
}

static void draw_series(cairo_t *cr, const axes *a, const mttctl_series *s, size_t i)
{
        if (s->n == 0) /* no data rows: in the legend alone */
                return;
        double rgb[3];
        mttctl_chart_colour(i, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 1.5);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        for (size_t k = 0; k < s->n; k++) {
                double x = x_of(a, s->t[k]), y = y_of(a, s->gib[k]);
                if (k == 0)
                        cairo_move_to(cr, x, y);
                else
                        cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
        if (s->n == 1) { /* a line of one point has no length: a dot */
                cairo_arc(cr, x_of(a, s->t[0]), y_of(a, s->gib[0]), 2.5, 0, 2 * M_PI);
                cairo_fill(cr);
        }
        if (s->verdict != MTT_REPORT_COMPLETED)
                mark_x(cr, x_of(a, s->t[s->n - 1]), y_of(a, s->gib[s->n - 1]));
}

/* The legend's words for a report's ending; NULL for a completed run. */
static const char *ending_name(mtt_report_verdict v)
{
        return v == MTT_REPORT_CRASHED_GRACEFULLY     ? "crashed gracefully"
               : v == MTT_REPORT_CRASHED_UNGRACEFULLY ? "crashed ungracefully"
                                                      : NULL;
}

/* A report's legend entry: its name, its ending, and "no data rows" for one drawn as no
 * line. */
static void legend_text(char *buf, size_t size, const mttctl_series *s)
{
        const char *ending = ending_name(s->verdict);
        const char *rows = s->n == 0 ? "no data rows" : NULL;
        if (ending && rows)
                snprintf(buf, size, "%s (%s, %s)", s->name, ending, rows);
        else if (ending || rows)
                snprintf(buf, size, "%s (%s)", s->name, ending ? ending : rows);
        else
                snprintf(buf, size, "%s", s->name);
}

static void draw_legend(cairo_t *cr, const axes *a, const mttctl_series *s, size_t n)
{
        double line_h = FONT_SIZE + 6, x = a->px0 + 12, y = a->py1 + 12;
        double w = 0;
        char text[512];
        for (size_t i = 0; i < n; i++) {
                legend_text(text, sizeof(text), &s[i]);
                cairo_text_extents_t e;
                cairo_text_extents(cr, text, &e);
                w = e.x_advance > w ? e.x_advance : w;
        }
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
        cairo_rectangle(cr, x - 6, y - 6, w + 48, n * line_h + 8);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        for (size_t i = 0; i < n; i++) {
                double rgb[3], cy = round(y + i * line_h + line_h / 2) + 0.5;
                mttctl_chart_colour(i, rgb);
                cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
                cairo_set_line_width(cr, 3);
                cairo_move_to(cr, x, cy);
                cairo_line_to(cr, x + 26, cy);
                cairo_stroke(cr);
                if (s[i].verdict != MTT_REPORT_COMPLETED)
                        mark_x(cr, x + 13, cy);
                legend_text(text, sizeof(text), &s[i]);
                cairo_set_source_rgb(cr, 0, 0, 0);
                text_at(cr, text, x + 34, cy, 0, 0.5);
        }
}

void mttctl_chart_draw(cairo_t *cr, const mttctl_chart *c, const mttctl_series *series, size_t n)
{
        axes a;
        set_ranges(&a, c, series, n);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, FONT_SIZE);
        draw_time_axis(cr, &a);
        draw_memory_axis(cr, &a);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 1);
        cairo_rectangle(cr, a.px0 + 0.5, a.py1 + 0.5, a.px1 - a.px0, a.py0 - a.py1);
        cairo_stroke(cr);
        /* The lines stay inside the plot area. */
        cairo_save(cr);
        cairo_rectangle(cr, a.px0, a.py1 - MARK_SIZE, a.px1 - a.px0 + MARK_SIZE,
                        a.py0 - a.py1 + 2 * MARK_SIZE);
        cairo_clip(cr);
        for (size_t i = 0; i < n; i++)
                draw_series(cr, &a, &series[i], i);
        cairo_restore(cr);
        draw_legend(cr, &a, series, n);
        if (c->title) {
                cairo_set_source_rgb(cr, 0, 0, 0);
                cairo_set_font_size(cr, FONT_SIZE + 3);
                text_at(cr, c->title, c->width / 2, MARGIN_TOP / 2, 0.5, 0.5);
        }
}

/* Memory over time as a chart, drawn with cairo on any surface (PNG, SVG, PDF): one line per
 * series in its own colour, a legend named after the files, each crash's last point marked
 * with an "x", a log time axis by default (linear on request) with ms/s/min/h labels, and
 * memory in human units. */
#pragma once

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

#include "series.h"

typedef struct mttctl_chart {
        double width, height; /* in the surface's units */
        bool linear;          /* a linear time axis instead of the log one */
        const char *title;    /* NULL: none */
} mttctl_chart;

void mttctl_chart_draw(cairo_t *cr, const mttctl_chart *c, const mttctl_series *series, size_t n);

/* Frees what cairo and fontconfig keep for the process's lifetime (fonts, caches), so that
 * a leak checker sees only real leaks. Drawing is over after it. */
void mttctl_chart_done(void);

/* The colour of series i, as 0..1 red, green and blue. */
void mttctl_chart_colour(size_t i, double rgb[3]);
/* A time tick's label: "100us", "10ms", "1s", "10min", "2h", "1d". */
void mttctl_chart_time_label(double seconds, char *buf, size_t size);

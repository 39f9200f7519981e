/* The metrics file (mttd --metrics-file): the text of metrics.c kept up to date in a file
 * node_exporter's textfile collector reads. Each write goes to a temporary file in the same
 * directory, which is renamed over the file: a reader sees the old text or the new one,
 * never a torn one, and nothing is left behind. Writes go on a thread of their own (the
 * directory may be on a file system that stalls); the text is made on the loop, at most
 * one write is out at a time, and changes that come meanwhile make one write after it. */
#pragma once

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "prom.h"

/* A change (an Open, an ending) is in the file within this, whatever the interval. */
#define MTTD_METRICS_SOON_US 100000

typedef struct mttd_metrics_file mttd_metrics_file;

/* Makes the text now, into p (on the loop). */
typedef void (*mttd_metrics_render_fn)(void *ctx, mttd_prom *p);

/* Writes path now and then every interval_us (and soon after each change). The name of the
 * temporary file is that of path with a leading dot and ".tmp" after it (not "*.prom":
 * node_exporter never reads it). 0, -ENOMEM, -ENAMETOOLONG. */
int mttd_metrics_file_new(struct ev_loop *loop, const char *path, uint64_t interval_us,
                          mttd_metrics_render_fn render, void *ctx, mttd_metrics_file **out);
/* Something changed: a write within MTTD_METRICS_SOON_US (or right after the one out). */
void mttd_metrics_file_changed(mttd_metrics_file *m);
/* Stops writing. With last, the file is written once more, here (at a stop, after every
 * session ended), unless a write is still out (stuck). Accepts NULL. */
void mttd_metrics_file_free(mttd_metrics_file *m, bool last);

/* One write of text to path through tmp, the way the thread makes it (for tests): 0, or
 * -errno with *what saying which step failed. */
int mttd_metrics_file_write(const char *path, const char *tmp, const char *text, size_t len,
                            const char **what);

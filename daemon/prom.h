/* The Prometheus text exposition format (0.0.4), as node_exporter's textfile collector reads
 * it (issue: every node's sessions in Prometheus): families with # HELP and # TYPE, samples
 * whose label values come from users and are escaped (backslash, double quote, newline;
 * bytes that are not UTF-8 become U+FFFD), no timestamps (node_exporter drops a file that
 * has them). Pure: text into a buffer that grows. Not wired into mttd yet. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct mttd_prom {
        char *text;
        size_t len, cap;
        bool failed; /* out of memory: the text is not whole */
} mttd_prom;

typedef enum mttd_prom_type { MTTD_PROM_GAUGE, MTTD_PROM_COUNTER } mttd_prom_type;

/* A label of a sample: its name ([a-zA-Z_][a-zA-Z0-9_]*) and its value, any text. */
typedef struct mttd_prom_label {
        const char *name;
        const char *value;
} mttd_prom_label;

void mttd_prom_init(mttd_prom *p);
void mttd_prom_free(mttd_prom *p);
/* Whether name is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*). */
bool mttd_prom_name_ok(const char *name);
/* Starts a family: its # HELP (escaped) and # TYPE lines. */
void mttd_prom_family(mttd_prom *p, const char *name, mttd_prom_type type, const char *help);
/* One sample line: name{labels} value. Integral values print as integers, the others with
 * the fewest digits that read back exactly; NaN and the infinities as the format spells
 * them. */
void mttd_prom_sample(mttd_prom *p, const char *name, const mttd_prom_label *labels,
                      size_t n_labels, double value);

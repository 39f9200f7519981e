/* What mttd tells Prometheus (SPEC 11): its running and recently ended sessions and its own
 * counters, as families of the text format (prom.h), for the metrics file (metrics_file.h).
 * Pure: the sessions and the facts in, text out. */
#pragma once

#include <stdint.h>

#include "meminfo.h"
#include "prom.h"
#include "session.h"
#include "tracker.h"

typedef struct mttd_metrics_facts {
        const char *version;
        uint64_t started_wall_us; /* when this mttd started */
        /* An ended session is shown while its end is at most this old (as long as the
         * session table keeps it: --history). */
        uint64_t retention_us;
        const mttd_session_view *view; /* now (monotonic), the latest sample */
        const mttd_tracker_stats *stats;
        const mttd_tracker_counts *counts;
        unsigned running, connections, watchers;
        const mttd_meminfo *memory; /* the machine's memory now; NULL: not read */
} mttd_metrics_facts;

/* Every family, the sessions' first (from first on, oldest first), then mttd's own. */
void mttd_metrics_render(mttd_prom *p, const mttd_session *first, const mttd_metrics_facts *f);

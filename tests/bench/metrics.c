/* What the metrics file costs (mttd --metrics-file): its text made for n running sessions
 * (on mttd's loop) and its write through a temporary file (on a thread of its own), in this
 * process with mttd's own modules. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "metrics.h"
#include "metrics_file.h"
#include "mtt-version.h"
#include "table.h"

void bench_metrics(const bench *b, unsigned n)
{
        struct mttd_session_list list = TAILQ_HEAD_INITIALIZER(list);
        mttd_session_params p = {
            .label = "bench run with a label of a usual length",
            .scope = MTTD_SCOPE_SYSTEM,
            .calibrate = true,
            .min_interval_us = 1000,
            .max_interval_us = 60000000,
        };
        char what[64];
        snprintf(what, sizeof(what), "metrics file, %u running sessions", n);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        unsigned made = 0;
        for (; null >= 0 && made < n; made++) {
                mttd_session *s;
                int fd = dup(null);
                if (fd < 0 ||
                    mttd_session_new(made + 1, &p, 1, 1000, fd, 1000000, 1048576, 1048576., &s) < 0)
                        break;
                s->job = strdup("4242_17");
                s->started_wall_us = 1700000000000000ull;
                mttd_session_begin(s, 0, false, NULL);
                TAILQ_INSERT_TAIL(&list, s, link);
        }
        if (null >= 0)
                close(null);
        if (made < n) {
                row(what, "cannot make the sessions (fds?)", "", "");
                goto out;
        }
        mttd_session_view view = {.now_us = 2000000, .current_kb = 2 * 1048576};
        mttd_tracker_stats stats = {0};
        mttd_tracker_counts counts = {0};
        mttd_meminfo memory = {.mem_total = 16777216, .mem_free = 8388608};
        mttd_metrics_facts f = {
            .version = MTT_VERSION,
            .retention_us = 3600000000ull,
            .view = &view,
            .stats = &stats,
            .counts = &counts,
            .running = n,
            .memory = &memory,
        };
        char path[96], tmp[112];
        snprintf(path, sizeof(path), "/tmp/mtt-bench-metrics-%d.prom", (int)getpid());
        snprintf(tmp, sizeof(tmp), "/tmp/.mtt-bench-metrics-%d.prom.tmp", (int)getpid());
        enum { ROUNDS = 9 };
        double render[ROUNDS], write[ROUNDS];
        size_t bytes = 0;
        for (int k = 0; k < ROUNDS; k++) {
                mttd_prom t;
                mttd_prom_init(&t);
                uint64_t t0 = now_ns();
                mttd_metrics_render(&t, TAILQ_FIRST(&list), &f);
                uint64_t t1 = now_ns();
                const char *step = "";
                if (t.failed || mttd_metrics_file_write(path, tmp, t.text, t.len, &step) < 0) {
                        row(what, "cannot write /tmp", "", "");
                        mttd_prom_free(&t);
                        goto out;
                }
                uint64_t t2 = now_ns();
                render[k] = (double)(t1 - t0) / 1e6;
                write[k] = (double)(t2 - t1) / 1e6;
                bytes = t.len;
                mttd_prom_free(&t);
        }
        unlink(path);
        qsort(render, ROUNDS, sizeof(double), cmp_double);
        qsort(write, ROUNDS, sizeof(double), cmp_double);
        /* Written every 5 s (the default) while they run: the loop's share of a core. */
        double loop_share = render[ROUNDS / 2] / 5000. * 100;
        char v[128];
        snprintf(v, sizeof(v), "%.2f ms on the loop + %.2f ms write, %.0f KiB; %.3f%% CPU at 5 s",
                 render[ROUNDS / 2], write[ROUNDS / 2], (double)bytes / 1024, loop_share);
        row(what, v, "", "");
out:
        while (!TAILQ_EMPTY(&list)) {
                mttd_session *s = TAILQ_FIRST(&list);
                TAILQ_REMOVE(&list, s, link);
                mttd_session_free(s);
        }
        (void)b;
}

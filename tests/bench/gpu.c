/* mtt-bench's GPU row: what one NVML read of every GPU costs (the memory of each, and
 * separately the process list of each), through mttd's own nvml.c; where there is no GPU,
 * why. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "nvml.h"

/* Median us of one pass over every device, of rounds of n passes. */
static double median_us(mttd_nvml *n, bool processes, int passes)
{
        double t[9];
        mttd_gpu g[MTTD_NVML_MAX_DEVICES];
        mttd_nvml_processes buf = {0};
        for (int k = 0; k < 9; k++) {
                uint64_t t0 = now_ns();
                for (int i = 0; i < passes; i++) {
                        if (!processes) {
                                mttd_nvml_read_memory(n, g);
                                continue;
                        }
                        int err;
                        for (unsigned d = 0; d < mttd_nvml_count(n); d++)
                                mttd_nvml_list_processes(n, d, false, &buf, &err);
                }
                t[k] = (double)(now_ns() - t0) / passes / 1000;
        }
        mttd_nvml_processes_free(&buf);
        qsort(t, 9, sizeof(double), cmp_double);
        return t[4];
}

void bench_gpu(const bench *b)
{
        char why[160];
        mttd_nvml *n = NULL;
        if (mttd_nvml_open(b->nvml, &n, why, sizeof(why)) < 0) {
                char v[192];
                snprintf(v, sizeof(v), "no GPU here: %s", why);
                row("GPU read (NVML)", v, "", "");
                return;
        }
        int passes = b->quick ? 100 : 1000;
        double memory = median_us(n, false, passes);
        double processes = median_us(n, true, passes / 10 ? passes / 10 : 1);
        char what[64], v[96];
        snprintf(what, sizeof(what), "GPU read (NVML, %u device%s)", mttd_nvml_count(n),
                 mttd_nvml_count(n) == 1 ? "" : "s");
        snprintf(v, sizeof(v), "memory %.1f us, processes %.1f us", memory, processes);
        row(what, v, "", "");
        mttd_nvml_close(n);
}

/* Self-check of tests/bench/sim.c: prints its numbers, exits non-zero if one is not sane. */
#include <stdio.h>
#include <time.h>

#include "sim.h"

int main(void)
{
        static const double lengths[] = {0.01, 1, 2.5, 60, 3600, 86400};
        clock_t start = clock();
        int failures = 0;

        printf("%10s %10s %14s %10s\n", "run (s)", "mtt rows", "mtt scheduled", "seed rows");
        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
                mtt_sim_rows r, again;
                mtt_sim_rows_for(lengths[i], 1, &r);
                mtt_sim_rows_for(lengths[i], 1, &again);
                printf("%10g %10llu %14llu %10llu\n", r.seconds, (unsigned long long)r.mtt_rows,
                       (unsigned long long)r.mtt_scheduled, (unsigned long long)r.seed_rows);
                if (r.mtt_rows > 2 * r.mtt_scheduled || r.mtt_rows < 2) {
                        printf("  FAIL: mtt rows outside [2, 2 x scheduled]\n");
                        failures++;
                }
                if (again.mtt_rows != r.mtt_rows || again.seed_rows != r.seed_rows) {
                        printf("  FAIL: not deterministic\n");
                        failures++;
                }
        }

        mtt_sim_peak w;
        mtt_sim_peak_worst(20, &w);
        printf("\npeak, worst of 20: run %g s, spike at %.3f s, true %.6f GiB, report %.6f GiB, "
               "error %.4f %%, %llu rows\n",
               w.run_s, w.spike_at_s, w.true_peak_gib, w.report_peak_gib, w.error_pct,
               (unsigned long long)w.rows);
        if (!(w.error_pct < 1.0)) {
                printf("  FAIL: peak error not below 1 %%\n");
                failures++;
        }

        printf("\nCPU time: %.2f s\n", (double)(clock() - start) / CLOCKS_PER_SEC);
        printf("%s\n", failures ? "FAILED" : "OK");
        return failures ? 1 : 0;
}

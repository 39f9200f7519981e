/* Simulated-clock experiments for mtt-bench: rows written per run length and peak
 * preservation, driving the daemon's real row-selection module (daemon/rows.h). */
#pragma once

#include <stdint.h>

/* Estimated cost of one memory_time_tracker 0.0.5 iteration besides its sleep: one Python
 * read + parse of /proc/meminfo, in seconds (an estimate, not a measurement). */
#define MTT_SIM_SEED_READ_COST 40e-6

typedef struct mtt_sim_rows {
        double seconds;         /* run length */
        uint64_t mtt_rows;      /* rows mtt writes (data rows, endings excluded) */
        uint64_t mtt_scheduled; /* rows the schedule alone asks for (no compaction, no peak rows) */
        uint64_t seed_rows;     /* rows memory_time_tracker 0.0.5 writes for the same run */
} mtt_sim_rows;

/* Rows for a run of the given length (> 0) of the seed-like workload, with mttd's defaults;
 * deterministic in rng_seed. A 24 h run takes about 0.1 s of CPU. */
void mtt_sim_rows_for(double seconds, uint64_t rng_seed, mtt_sim_rows *out);
/* The same with another max interval and peak-row threshold (mttd --peak-min-kb). */
void mtt_sim_rows_with(double seconds, uint64_t rng_seed, uint64_t max_interval_us,
                       int64_t peak_min_kb, mtt_sim_rows *out);

typedef struct mtt_sim_peak {
        double run_s;           /* 120 */
        double spike_at_s;      /* when the spike starts */
        double true_peak_gib;   /* max of the 1 kHz reference series (GiB above the start) */
        double report_peak_gib; /* max over the rows mtt wrote */
        double error_pct;       /* 100 * (true - report) / true */
        uint64_t rows;
} mtt_sim_peak;

/* A 2-minute run with one 50 ms spike of about +1 GiB at a time drawn from rng_seed. */
void mtt_sim_peak_error(uint64_t rng_seed, mtt_sim_peak *out);
/* Runs seeds 1..trials and returns the run with the largest error_pct (zeroed if trials
 * is 0). */
void mtt_sim_peak_worst(unsigned trials, mtt_sim_peak *worst);

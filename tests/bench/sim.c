/* Simulated-clock experiments for mtt-bench: the daemon's row selection driven on a fake
 * clock by a synthetic memory curve. No sleeping, no real time, deterministic per seed. */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rows.h"

/* mttd's defaults: internal fine sampling interval and a session's schedule bounds. */
#define FINE_US 10000u
#define MIN_US  1000u
#define MAX_US  60000000u /* mttd's default max_interval_s */

/*
 * The workload model. Used memory (kB) = baseline + the program's allocations + a slow leak
 * + noise from the rest of the system.
 *
 * - Kernel batching: per-CPU counter deltas are folded into /proc/meminfo in batches. Small
 *   changes (noise, leak) therefore only move at fold times: every 2 ms during the first
 *   second (a busy start-up crosses the per-CPU thresholds often) and every 1 s afterwards
 *   (vm.stat_interval). Between folds consecutive samples repeat the same value. Large
 *   allocations cross the thresholds at once, so allocation steps and the spike show up
 *   when they happen.
 * - Noise: uniform in [-NOISE_KB, NOISE_KB], redrawn at every fold from (seed, fold time).
 * - Seed-like run (rows experiment), scale-free in the run length T: 12 steps of 128 MiB
 *   every 4% of T from 5% of T (up to +1.5 GiB at 49%), 6 steps of 256 MiB down every 4% of
 *   T from 70% of T (back to the baseline at 90%), plus a leak of LEAK_KB spread over T.
 *   So a 10 ms run moves every few hundred microseconds and a 24 h run every hour, and
 *   because of the 1 s noise folds, long runs change between most 60 s samples.
 * - Peak run: 4 steps of 50 MiB at 0.1, 0.2, 0.3, 0.4 s (a +200 MiB plateau), then one
 *   spike of 1 GiB +-5% starting at a time drawn in [1 s, 119 s): linear rise over 2 ms,
 *   hold 46 ms, linear fall over 2 ms. Its page faults keep the counters busy, so the noise
 *   folds every 2 ms during the spike: the 1 kHz reference sees more noise draws on the
 *   hold than the 10 ms fine ticks do, which is where the reported peak can fall short.
 */
#define BASE_KB         400000
#define NOISE_KB        256
#define EARLY_FOLD_US   2000u
#define LATE_FOLD_US    1000000u
#define EARLY_US        1000000u
#define UP_STEPS        12
#define DOWN_STEPS      6
#define RAMP_KB         (1536 * 1024)
#define LEAK_KB         (32 * 1024)
#define PLATEAU_STEPS   4
#define PLATEAU_KB      (200 * 1024)
#define PLATEAU_STEP_US 100000u
#define PEAK_RUN_US     120000000u
#define SPIKE_RISE_US   2000u
#define SPIKE_HOLD_US   46000u
#define SPIKE_FALL_US   2000u
#define SPIKE_US        (SPIKE_RISE_US + SPIKE_HOLD_US + SPIKE_FALL_US)
#define SPIKE_KB        (1024 * 1024)
#define REF_STEP_US     1000u /* the 1 kHz reference */
#define KB_PER_GIB      1048576.0

typedef struct curve {
        uint64_t seed;
        uint64_t run_us;
        uint64_t spike_at_us;
        int64_t spike_kb;
        uint64_t max_us;     /* the schedule's max interval (0: mttd's default) */
        int64_t peak_min_kb; /* mttd_rows_set_peak_min */
} curve;

typedef int64_t (*curve_fn)(const curve *c, uint64_t t_us);

static uint64_t splitmix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15u;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
        return x ^ (x >> 31);
}

/* When the fold that the sample at t sees happened: every EARLY_FOLD_US while the system is
 * busy (the first second, and the spike, whose page faults keep crossing the thresholds),
 * every LATE_FOLD_US otherwise. */
static uint64_t fold_of(const curve *c, uint64_t t_us)
{
        uint64_t fine = t_us - t_us % EARLY_FOLD_US, late = t_us - t_us % LATE_FOLD_US;
        if (t_us < EARLY_US)
                return fine;
        uint64_t busy_from = c->spike_at_us, busy_to = c->spike_at_us + SPIKE_US;
        if (c->spike_kb == 0 || t_us < busy_from)
                return late;
        if (t_us >= busy_to) {
                uint64_t last = busy_to - 1;
                fine = last - last % EARLY_FOLD_US;
        }
        return fine >= busy_from && fine > late ? fine : late;
}

static int64_t noise_kb(uint64_t seed, uint64_t fold_us)
{
        uint64_t h = splitmix64(seed * 0x2545f4914f6cdd1du ^ splitmix64(fold_us));
        return (int64_t)(h % (2 * NOISE_KB + 1)) - NOISE_KB;
}

static int64_t steps_done(uint64_t permille, uint64_t from, uint64_t width, int64_t steps)
{
        if (permille < from)
                return 0;
        int64_t n = (int64_t)((permille - from) / width) + 1;
        return n < steps ? n : steps;
}

static int64_t seedlike_kb(const curve *c, uint64_t t_us)
{
        uint64_t permille = t_us * 1000 / c->run_us;
        int64_t up = steps_done(permille, 50, 40, UP_STEPS);
        int64_t down = steps_done(permille, 700, 40, DOWN_STEPS);
        uint64_t fold = fold_of(c, t_us);
        int64_t leak = (int64_t)((uint64_t)LEAK_KB * fold / c->run_us);
        return BASE_KB + RAMP_KB / UP_STEPS * up - RAMP_KB / DOWN_STEPS * down + leak +
               noise_kb(c->seed, fold);
}

static int64_t spike_kb(const curve *c, uint64_t t_us)
{
        if (t_us < c->spike_at_us)
                return 0;
        uint64_t d = t_us - c->spike_at_us;
        if (d < SPIKE_RISE_US)
                return c->spike_kb * (int64_t)d / SPIKE_RISE_US;
        d -= SPIKE_RISE_US;
        if (d < SPIKE_HOLD_US)
                return c->spike_kb;
        d -= SPIKE_HOLD_US;
        if (d < SPIKE_FALL_US)
                return c->spike_kb * (int64_t)(SPIKE_FALL_US - d) / SPIKE_FALL_US;
        return 0;
}

static int64_t peak_kb(const curve *c, uint64_t t_us)
{
        int64_t plateau = (int64_t)(t_us / PLATEAU_STEP_US);
        if (plateau > PLATEAU_STEPS)
                plateau = PLATEAU_STEPS;
        return BASE_KB + PLATEAU_KB / PLATEAU_STEPS * plateau + spike_kb(c, t_us) +
               noise_kb(c->seed, fold_of(c, t_us));
}

/* What the sink saw. */
typedef struct tally {
        uint64_t rows;
        uint64_t last_us;
        int64_t max_kb;
} tally;

static void on_row(void *ctx, uint64_t t_us, int64_t kb)
{
        tally *y = ctx;
        if (y->rows > 0 && t_us <= y->last_us) {
                /* A broken invariant of daemon/rows.c: no number printed from it is valid. */
                fprintf(stderr, "sim: row at %llu us after row at %llu us\n",
                        (unsigned long long)t_us, (unsigned long long)y->last_us);
                abort();
        }
        if (y->rows == 0 || kb > y->max_kb)
                y->max_kb = kb;
        y->rows++;
        y->last_us = t_us;
}

/* Drives the rows module as mttd's tracker does for one session opened at 0: a sample at
 * every fine tick (0 + k * FINE_US) and at every due row in between, the last row at the end
 * of the run. Returns the rows the schedule alone asks for. */
static uint64_t drive(const curve *c, curve_fn kb_at, tally *out)
{
        const mttd_schedule sched = {MIN_US, c->max_us ? c->max_us : MAX_US};
        mttd_rows rows;
        *out = (tally){0};
        mttd_rows_start(&rows, &sched, kb_at(c, 0), on_row, out);
        mttd_rows_set_peak_min(&rows, c->peak_min_kb);
        uint64_t scheduled = 2; /* the row at 0 and the last row */
        uint64_t next_fine = FINE_US;
        for (;;) {
                uint64_t due = mttd_rows_next_due(&rows);
                uint64_t t = due < next_fine ? due : next_fine;
                if (t >= c->run_us)
                        break;
                scheduled += t >= due;
                mttd_rows_feed(&rows, t, kb_at(c, t));
                if (t >= next_fine)
                        next_fine = t + FINE_US;
        }
        mttd_rows_finish(&rows, c->run_us, kb_at(c, c->run_us));
        return scheduled;
}

/* memory_time_tracker 0.0.5's get_refresh_delay(elapsed), in nanoseconds. */
static uint64_t seed_delay_ns(uint64_t elapsed_ns)
{
        static const struct {
                uint64_t below_ns, delay_ns;
        } table[] = {
            {10000000u, 0},
            {100000000u, 10000u},
            {1000000000u, 10000000u},
            {10000000000u, 100000000u},
            {60000000000u, 1000000000u},
            {600000000000u, 30000000000u},
            {3600000000000u, 60000000000u},
        };
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (elapsed_ns < table[i].below_ns)
                        return table[i].delay_ns;
        return 180000000000u;
}

/* The seed writes the row at 0, then one row per read: sleep, read, write, until the run
 * ends. No compaction. */
static uint64_t seed_rows(uint64_t run_ns)
{
        uint64_t cost_ns = (uint64_t)llround(MTT_SIM_SEED_READ_COST * 1e9);
        if (cost_ns == 0)
                cost_ns = 1;
        uint64_t rows = 1;
        for (uint64_t t = seed_delay_ns(0) + cost_ns; t <= run_ns; t += seed_delay_ns(t) + cost_ns)
                rows++;
        return rows;
}

void mtt_sim_rows_for(double seconds, uint64_t rng_seed, mtt_sim_rows *out)
{
        mtt_sim_rows_with(seconds, rng_seed, MAX_US, MTTD_ROWS_PEAK_MIN_KB, out);
}

void mtt_sim_rows_with(double seconds, uint64_t rng_seed, uint64_t max_interval_us,
                       int64_t peak_min_kb, mtt_sim_rows *out)
{
        curve c = {.seed = rng_seed,
                   .run_us = (uint64_t)llround(seconds * 1e6),
                   .max_us = max_interval_us,
                   .peak_min_kb = peak_min_kb};
        if (c.run_us == 0)
                c.run_us = 1;
        tally y;
        uint64_t scheduled = drive(&c, seedlike_kb, &y);
        *out = (mtt_sim_rows){
            .seconds = seconds,
            .mtt_rows = y.rows,
            .mtt_scheduled = scheduled,
            .seed_rows = seed_rows(c.run_us * 1000),
        };
}

void mtt_sim_peak_error(uint64_t rng_seed, mtt_sim_peak *out)
{
        uint64_t h = splitmix64(rng_seed ^ 0x5eed5eed5eed5eedu);
        const uint64_t first = 1000000u, span = PEAK_RUN_US - 2 * first;
        curve c = {
            .seed = rng_seed,
            .run_us = PEAK_RUN_US,
            .spike_at_us = first + h % span,
            .spike_kb = SPIKE_KB + (int64_t)(splitmix64(h) % (SPIKE_KB / 10 + 1)) - SPIKE_KB / 20,
            .peak_min_kb = MTTD_ROWS_PEAK_MIN_KB,
        };
        tally y;
        drive(&c, peak_kb, &y);
        int64_t kb0 = peak_kb(&c, 0), ref = kb0;
        for (uint64_t t = 0; t <= c.run_us; t += REF_STEP_US) {
                int64_t kb = peak_kb(&c, t);
                if (kb > ref)
                        ref = kb;
        }
        double truth = (double)(ref - kb0) / KB_PER_GIB;
        double report = (double)(y.max_kb - kb0) / KB_PER_GIB;
        *out = (mtt_sim_peak){
            .run_s = (double)c.run_us / 1e6,
            .spike_at_s = (double)c.spike_at_us / 1e6,
            .true_peak_gib = truth,
            .report_peak_gib = report,
            .error_pct = 100.0 * (truth - report) / truth,
            .rows = y.rows,
        };
}

void mtt_sim_peak_worst(unsigned trials, mtt_sim_peak *worst)
{
        *worst = (mtt_sim_peak){0};
        for (unsigned i = 0; i < trials; i++) {
                mtt_sim_peak p;
                mtt_sim_peak_error((uint64_t)i + 1, &p);
                if (i == 0 || p.error_pct > worst->error_pct)
                        *worst = p;
        }
}

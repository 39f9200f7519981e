/* A session's baseline: the machine's level at the moment of Open. A ring keeps the samples
 * mttd took while sessions ran; at Open a fresh sample is averaged with the newest of them
 * that stand at its level, so what ran just before Open (a run that just ended, a burst)
 * never leaks into the baseline, and nothing waits. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define MTTD_BASELINE_RING 256

typedef struct mttd_baseline {
        uint64_t spacing_us; /* samples closer than this to the previous one are skipped */
        size_t head, count;
        struct {
                uint64_t t_us;
                int64_t kb;
        } ring[MTTD_BASELINE_RING];
} mttd_baseline;

void mttd_baseline_init(mttd_baseline *b, uint64_t spacing_us);
void mttd_baseline_add(mttd_baseline *b, uint64_t t_us, int64_t kb);
/* The level at now_us, where kb is a fresh sample: its mean with the ring's samples that
 * are no older than window_us and within band_kb of kb, newest first, up to the first that
 * is not (older ones are another level, even if they come back to this one). */
double mttd_baseline_at(const mttd_baseline *b, uint64_t now_us, int64_t kb, uint64_t window_us,
                        int64_t band_kb);

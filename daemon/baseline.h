/* A ring of recent system samples, so a session's baseline is the mean of the samples taken
 * before it opened: no waiting at Open. Pure. */
#pragma once

#include <stdbool.h>
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
/* Mean of the samples in [now - window, now]; false when there are none. */
bool mttd_baseline_mean(const mttd_baseline *b, uint64_t now_us, uint64_t window_us,
                        double *mean_kb);

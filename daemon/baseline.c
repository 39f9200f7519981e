/* The baseline ring. */
#include "baseline.h"

#include <string.h>

void mttd_baseline_init(mttd_baseline *b, uint64_t spacing_us)
{
        memset(b, 0, sizeof(*b));
        b->spacing_us = spacing_us;
}

void mttd_baseline_add(mttd_baseline *b, uint64_t t_us, int64_t kb)
{
        if (b->count > 0) {
                size_t last = (b->head + MTTD_BASELINE_RING - 1) % MTTD_BASELINE_RING;
                if (t_us < b->ring[last].t_us + b->spacing_us)
                        return;
        }
        b->ring[b->head].t_us = t_us;
        b->ring[b->head].kb = kb;
        b->head = (b->head + 1) % MTTD_BASELINE_RING;
        if (b->count < MTTD_BASELINE_RING)
                b->count++;
}

bool mttd_baseline_mean(const mttd_baseline *b, uint64_t now_us, uint64_t window_us,
                        double *mean_kb)
{
        double sum = 0;
        size_t n = 0;
        for (size_t i = 0; i < b->count; i++) {
                size_t k = (b->head + MTTD_BASELINE_RING - 1 - i) % MTTD_BASELINE_RING;
                if (b->ring[k].t_us + window_us < now_us)
                        break;
                sum += (double)b->ring[k].kb;
                n++;
        }
        if (n == 0)
                return false;
        *mean_kb = sum / (double)n;
        return true;
}

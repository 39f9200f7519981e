/* The baseline ring and the level at Open. */
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

double mttd_baseline_at(const mttd_baseline *b, uint64_t now_us, int64_t kb, uint64_t window_us,
                        int64_t band_kb)
{
        double sum = (double)kb;
        size_t n = 1;
        for (size_t i = 0; i < b->count; i++) {
                size_t k = (b->head + MTTD_BASELINE_RING - 1 - i) % MTTD_BASELINE_RING;
                int64_t d = b->ring[k].kb - kb;
                if (b->ring[k].t_us + window_us < now_us || d > band_kb || d < -band_kb)
                        break;
                sum += (double)b->ring[k].kb;
                n++;
        }
        return sum / (double)n;
}

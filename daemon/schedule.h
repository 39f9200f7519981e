/* The adaptive log schedule: the interval after elapsed time t is about t/20 (about 46 rows
 * per decade), clamped to a session's minimum and maximum. Pure. */
#pragma once

#include <stdint.h>

#define MTTD_SCHEDULE_DIVISOR 20

typedef struct mttd_schedule {
        uint64_t min_us;
        uint64_t max_us;
} mttd_schedule;

uint64_t mttd_schedule_interval(const mttd_schedule *s, uint64_t elapsed_us);
/* When the row after one written at elapsed_us is due. */
uint64_t mttd_schedule_next(const mttd_schedule *s, uint64_t elapsed_us);

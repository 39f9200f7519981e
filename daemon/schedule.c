/* The adaptive log schedule. */
#include "schedule.h"

uint64_t mttd_schedule_interval(const mttd_schedule *s, uint64_t elapsed_us)
{
        uint64_t i = elapsed_us / MTTD_SCHEDULE_DIVISOR;
        if (i < s->min_us)
                i = s->min_us;
        if (i > s->max_us)
                i = s->max_us;
        return i;
}

uint64_t mttd_schedule_next(const mttd_schedule *s, uint64_t elapsed_us)
{
        return elapsed_us + mttd_schedule_interval(s, elapsed_us);
}

/* Report row formatting. */
#include "csv.h"

#include <inttypes.h>
#include <stdio.h>

size_t mttd_csv_row(char *buf, uint64_t t_us, double ram_gib)
{
        /* The delta is printed from integers so it is exact to the microsecond. */
        int n = snprintf(buf, MTTD_CSV_ROW_MAX, "%" PRIu64 ".%06" PRIu64 ",%.6f\n", t_us / 1000000,
                         t_us % 1000000, ram_gib);
        if (n < 0)
                n = 0;
        if (n >= MTTD_CSV_ROW_MAX)
                n = MTTD_CSV_ROW_MAX - 1;
        return (size_t)n;
}

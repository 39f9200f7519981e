/* The report's text: header, data rows and endings, compatible with memory_time_tracker.
 * Pure formatting into caller buffers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define MTTD_CSV_HEADER        "delta,ram\n"
#define MTTD_CSV_END_COMPLETED "0,0\n"
#define MTTD_CSV_END_FAILED    "0,0\n-1,-1\n"
#define MTTD_CSV_ROW_MAX       64

/* "delta,ram\n" with both as %.6f, so a data row never reads as a sentinel. Returns the
 * length written (always < MTTD_CSV_ROW_MAX). */
size_t mttd_csv_row(char *buf, uint64_t t_us, double ram_gib);

/* mttd's defaults. */
#include "config.h"

#include "proto/interface.h"

#include "rows.h"

void mttd_config_defaults(mttd_config *c)
{
        *c = (mttd_config){
            .meminfo_path = "/proc/meminfo",
            .fine_interval_us = 10000,
            .min_interval_us = MTT_PROTO_MIN_INTERVAL_US_DEFAULT,
            .floor_interval_us = MTT_PROTO_MIN_INTERVAL_US_LO,
            .max_interval_us = MTT_PROTO_MAX_INTERVAL_S_DEFAULT * 1000000ull,
            .calibration_us = 2000000,
            .baseline_band_kb = 1024,
            .flush_delay_us = 900000,
            .sync_interval_us = 10000000,
            .stall_after_us = 5000000,
            .shutdown_timeout_us = 5000000,
            .read_timeout_us = 1000000,
            .max_tree_processes = 4096,
            .peak_min_kb = MTTD_ROWS_PEAK_MIN_KB,
            .max_sessions = 16384,
            .max_sessions_per_uid = 4096,
            .max_connections = 16384,
            .max_connections_per_uid = 1024,
            .idle_timeout_us = 60000000,
            .history = MTT_PROTO_HISTORY_DEFAULT,
            .writer_threads = 16,
            .max_blocking_per_uid = 16,
            .max_frame = 64 * 1024,
            .max_output = 1024 * 1024,
            .metrics_interval_us = 5000000,
            .metrics_retention_us = 3600000000ull,
        };
}

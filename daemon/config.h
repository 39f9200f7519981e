/* mttd's settings, with their defaults. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct mttd_config {
        const char *socket_path;  /* NULL: the default for this user */
        const char *meminfo_path; /* "/proc/meminfo" */
        const char *nvml_path;    /* for tests: NVML from here; NULL: libnvidia-ml.so.1 */

        uint64_t fine_interval_us;    /* internal sampling while sessions run (peaks) */
        uint64_t min_interval_us;     /* default session minimum */
        uint64_t floor_interval_us;   /* lowest minimum a session may ask for */
        uint64_t max_interval_us;     /* default session maximum */
        uint64_t calibration_us;      /* baseline: samples at most this old are averaged */
        int64_t baseline_band_kb;     /* ... when they stand this close to the level at Open */
        uint64_t flush_delay_us;      /* rows reach the file within this (+ a fine tick) */
        uint64_t sync_interval_us;    /* fdatasync while rows are pending */
        uint64_t stall_after_us;      /* a write older than this is reported stalled */
        uint64_t shutdown_timeout_us; /* wait for stalled reports on SIGTERM */
        uint64_t read_timeout_us;     /* a process-tree read out longer is late */
        unsigned max_tree_processes;  /* processes one user's trees cost per read */
        int64_t peak_min_kb;          /* a peak row stands this far above its neighbours */

        unsigned max_sessions;
        unsigned max_sessions_per_uid;
        unsigned max_connections;
        unsigned max_connections_per_uid;
        uint64_t idle_timeout_us; /* a connection with no running session and no call */
        unsigned history;         /* ended sessions kept for List and Status */
        unsigned writer_threads;
        unsigned max_blocking_per_uid; /* writes in flight to one user's fds that may block */
        size_t max_frame;
        size_t max_output; /* unsent reply bytes per connection */

        const char *metrics_path;      /* the Prometheus file; NULL: none */
        uint64_t metrics_interval_us;  /* ... written this often (and at changes) */
        uint64_t metrics_retention_us; /* ... showing ended sessions this long */
} mttd_config;

void mttd_config_defaults(mttd_config *c);

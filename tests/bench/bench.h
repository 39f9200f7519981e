/* What mtt-bench's parts share: the options, the table's rows, the clock and quantiles, an
 * mttd of the bench's own, and a tree of processes to read. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct fd_store fd_store;

typedef struct bench {
        const char *mttd;
        const char *nvml; /* --nvml: NVML from here (NULL: libnvidia-ml.so.1) */
        bool quick;
        bool restart_only;
        bool keep_only;
        bool keep;       /* start_mttd gives mttd a NOTIFY_SOCKET: it keeps its state (store) */
        fd_store *store; /* the stand-in for systemd's fd store, while keep */
        char dir[64];
        char socket[108];
        pid_t pid;
} bench;

/* bench.c: the table, the clock, quantiles */
uint64_t now_ns(void);
int cmp_double(const void *a, const void *b);
double quantile(const double *v, size_t n, double q);
void row(const char *what, const char *value, const char *target, const char *verdict);

/* sampling.c: what mttd's parts cost, run in this process */
pid_t spawn_tree(unsigned n);
void kill_tree(pid_t leader);
void bench_sample(const bench *b);
void bench_scopes(const bench *b);
void bench_spacing(const bench *b);

/* live.c: a live mttd, and what it costs */
int start_mttd(bench *b, const char *meminfo, int log_fd);
void stop_mttd(bench *b);
void bench_open_close(const bench *b);
void bench_sessions(const bench *b, unsigned n, double spread_s, double settle_s, double window_s);
void bench_idle(const bench *b, double window_s);
void bench_process_session(const bench *b, unsigned n, double window_s);

/* gpu.c: what one NVML read of every GPU costs, or why there is none */
void bench_gpu(const bench *b);

/* metrics.c: what the metrics file costs for n running sessions */
void bench_metrics(const bench *b, unsigned n);

/* restart.c: what a restart leaves in the reports */
void bench_restart(const bench *opts, unsigned n);

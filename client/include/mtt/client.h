/* libmtt-client: open and close mtt tracking sessions from an application.
 *
 * A session asks mttd (the mtt daemon) to record the machine's memory use over time into a
 * report file (CSV, "delta,ram") until the session is closed. Every function returns 0 or a
 * negative errno value; none prints or exits. See libmtt-client(3). */
#ifndef MTT_CLIENT_H
#define MTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MTT_API __attribute__((visibility("default")))
#else
#define MTT_API
#endif

typedef struct mtt_session mtt_session;

typedef enum mtt_outcome {
        MTT_COMPLETED, /* the tracked code succeeded: the report ends with "0,0" */
        MTT_FAILED,    /* it reported an error: "0,0" then "-1,-1" */
        MTT_CRASHED,   /* it died (a supervisor saw it): no ending at all */
} mtt_outcome;

typedef enum mtt_report_verdict {
        MTT_REPORT_COMPLETED,            /* the last row is "0,0" */
        MTT_REPORT_CRASHED_GRACEFULLY,   /* the last row is "-1,-1" */
        MTT_REPORT_CRASHED_UNGRACEFULLY, /* no ending: the last row is data */
        MTT_REPORT_NOT_A_REPORT,         /* readable, but no report: libmtt-client(3) */
} mtt_report_verdict;

typedef enum mtt_calibrate {
        MTT_CALIBRATE_DEFAULT = 0, /* subtract the baseline (the daemon's default) */
        MTT_CALIBRATE_ON,
        MTT_CALIBRATE_OFF, /* raw used GiB */
} mtt_calibrate;

/* What a session measures. */
typedef enum {
        MTT_SCOPE_SYSTEM = 0, /* the machine: memory_time_tracker's formula on /proc/meminfo */
        MTT_SCOPE_PROCESS,    /* a process and its descendants (Pss, else RSS) */
        MTT_SCOPE_CGROUP,     /* a process's memory cgroup */
        MTT_SCOPE_GPU,        /* what a process and its descendants hold on NVIDIA GPUs */
        MTT_SCOPE_GPU_DEVICE, /* memory used on NVIDIA GPUs: all, or gpu_device's one */
} mtt_scope;

/* mtt_options' gpu_device for NVML's GPU i (0 to 63, as nvidia-smi numbers them). */
#define MTT_GPU_DEVICE(i) ((i) + 1)

/* Zero-initialise it: zero means the default for every field, so fields added later keep
 * old callers right. */
typedef struct mtt_options {
        const char *label;       /* shown by mttctl list; NULL: none */
        const char *socket_path; /* NULL: $MTT_SOCKET, the user's mttd, then the system's */
        mtt_calibrate calibrate;
        uint32_t min_interval_us; /* 0: the daemon's default; bounds: libmtt-client(3) */
        uint32_t max_interval_s;  /* 0: the daemon's default; bounds: libmtt-client(3) */
        int timeout_ms;           /* per call; 0: 30000, negative: wait forever */
        mtt_scope scope;
        int32_t pid; /* for the process, cgroup and gpu scopes: whose (one you own); 0: yours */
        /* The workload manager's job the run belongs to, shown with the session. NULL: the
         * job the environment names (Slurm, PBS, LSF or SGE: libmtt-client(3)); "": none,
         * whatever the environment says. */
        const char *job;
        /* gpu-device scope: MTT_GPU_DEVICE(i) for NVML's GPU i alone; 0: every GPU */
        int32_t gpu_device;
        void *reserved[5];
} mtt_options;

/* Connects to mttd, then creates csv_path with the caller's own permissions (0666 less the
 * umask), or opens the file there, and opens a session that writes the report into it: an
 * existing file is emptied once the session is open. Returns once the report has its header
 * and first row (a process killed right after leaves a report, not an empty file). A refused
 * Open leaves an existing file as it was (but for an mttd older than Open's truncate, where it
 * is emptied before Open, as it was), and no file where there was none; without a daemon it
 * fails before it touches the path. -EINVAL for a label that is not UTF-8, a job that is not
 * UTF-8, has a control character or is longer than 128 bytes, a gpu_device past
 * MTT_GPU_DEVICE(63) or set for another scope than gpu-device, or options past mttd's limits
 * (libmtt-client(3)); -ENODEV for a GPU scope where mttd cannot read NVIDIA GPUs (no NVML
 * library, no GPU, no such GPU: `mttctl sample` says which); -EUSERS when mttd is at its
 * limit of sessions or connections; the write's errno when mttd cannot write the report. */
MTT_API int mtt_open(const char *csv_path, const mtt_options *opts, mtt_session **out);
/* Opens a session writing into fd, which must be open for writing and be a regular file, a
 * pipe or FIFO, or a character device. The caller keeps its fd (the daemon gets a copy). */
MTT_API int mtt_open_fd(int fd, const mtt_options *opts, mtt_session **out);
/* Ends the session, waits until the report is written and synced, and frees s (always, even
 * on error). -EIO (or the write's errno) when the daemon could not write the report. */
MTT_API int mtt_close(mtt_session *s, mtt_outcome outcome);
/* The same, with a cause recorded for the session (for MTT_CRASHED: "killed by SIGKILL");
 * -EINVAL for a cause past mttd's limit (libmtt-client(3)). */
MTT_API int mtt_close_with_cause(mtt_session *s, mtt_outcome outcome, const char *cause);
/* The session's id in mttd (as mttctl shows it). */
MTT_API uint64_t mtt_session_id(const mtt_session *s);

/* The verdict of a report file, from the file alone. A file that can be read but is no
 * report (not "delta,ram" then rows of two numbers, empty, or not a regular file: a FIFO, a
 * device) is MTT_REPORT_NOT_A_REPORT; it never blocks. -ENOENT, -EISDIR (or another errno)
 * when the file cannot be read: a missing file is an error, not a verdict. */
MTT_API int mtt_report_verdict_of(const char *csv_path, mtt_report_verdict *out);
/* These return false when the file cannot be read or is no report; use mtt_report_verdict_of
 * to tell. */
MTT_API bool mtt_has_completed_successfully(const char *csv_path);
MTT_API bool mtt_has_crashed_gracefully(const char *csv_path);
MTT_API bool mtt_has_crashed_ungracefully(const char *csv_path);

/* The socket a session would use with these options (NULL opts: the defaults). Writes into
 * buf; returns buf, or NULL if it does not fit. */
MTT_API const char *mtt_socket_path(const mtt_options *opts, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif

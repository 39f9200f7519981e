/* The io.mtt.Tracker interface text and the names around it. */
#include "interface.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The numbers of interface.h as text, for the interface text to state them. */
#define LABEL_MAX               MTT_PROTO_STRINGIFY(MTT_PROTO_LABEL_MAX)
#define JOB_MAX                 MTT_PROTO_STRINGIFY(MTT_PROTO_JOB_MAX)
#define CAUSE_MAX               MTT_PROTO_STRINGIFY(MTT_PROTO_CAUSE_MAX)
#define MIN_INTERVAL_US_LO      MTT_PROTO_STRINGIFY(MTT_PROTO_MIN_INTERVAL_US_LO)
#define MIN_INTERVAL_US_HI      MTT_PROTO_STRINGIFY(MTT_PROTO_MIN_INTERVAL_US_HI)
#define MIN_INTERVAL_US_DEFAULT MTT_PROTO_STRINGIFY(MTT_PROTO_MIN_INTERVAL_US_DEFAULT)
#define MAX_INTERVAL_S_LO       MTT_PROTO_STRINGIFY(MTT_PROTO_MAX_INTERVAL_S_LO)
#define MAX_INTERVAL_S_HI       MTT_PROTO_STRINGIFY(MTT_PROTO_MAX_INTERVAL_S_HI)
#define MAX_INTERVAL_S_DEFAULT  MTT_PROTO_STRINGIFY(MTT_PROTO_MAX_INTERVAL_S_DEFAULT)
#define HISTORY_DEFAULT         MTT_PROTO_STRINGIFY(MTT_PROTO_HISTORY_DEFAULT)

const char mtt_proto_tracker_description[] =
    "# Memory-and-time tracking: mttd samples /proc/meminfo and writes one report per\n"
    "# session into a file descriptor the client passes with Open.\n"
    "interface io.mtt.Tracker\n"
    "\n"
    "type Session (\n"
    "  id: int,\n"
    "  label: string,\n"
    "  # the workload manager's job it ran in (Open's job), when it has one\n"
    "  job: ?string,\n"
    "  pid: int,\n"
    "  uid: int,\n"
    "  # " MTT_PROTO_RUNNING ", " MTT_PROTO_COMPLETED ", " MTT_PROTO_FAILED ", " MTT_PROTO_CRASHED
    " or " MTT_PROTO_ERROR "\n"
    "  state: string,\n"
    "  # wall clock at open, microseconds since the epoch\n"
    "  started: int,\n"
    "  # seconds since open (until the end for an ended session)\n"
    "  elapsed: float,\n"
    "  rows: int,\n"
    "  # samples mttd took while it ran (one shared read serves every session due)\n"
    "  samples: int,\n"
    "  # GiB above the baseline: the last sample and the highest one\n"
    "  ram: float,\n"
    "  peak: float,\n"
    "  baseline: float,\n"
    "  calibrate: bool,\n"
    "  min_interval_us: int,\n"
    "  max_interval_s: int,\n"
    "  # for an ended session: " MTT_PROTO_COMPLETED ", " MTT_PROTO_FAILED " or " MTT_PROTO_CRASHED
    "\n"
    "  outcome: ?string,\n"
    "  # and what is known of why (\"killed by SIGKILL (OOM killer)\",\n"
    "  # \"exited with status 3 without Close\", ...)\n"
    "  cause: ?string,\n"
    "  # seconds the current write to the report has been waiting, when it is stalled\n"
    "  write_stalled: ?float,\n"
    "  # mttd restarted while it ran (kept under systemd or passed across a re-exec): how\n"
    "  # many times, and the last restart's gap in seconds (no rows in it).\n"
    "  restarts: ?int,\n"
    "  restart_gap: ?float,\n"
    "  error: ?string,\n"
    "  # " MTT_PROTO_SCOPE_SYSTEM ", " MTT_PROTO_SCOPE_PROCESS ", " MTT_PROTO_SCOPE_CGROUP
    ", " MTT_PROTO_SCOPE_GPU " or " MTT_PROTO_SCOPE_GPU_DEVICE "\n"
    "  scope: string,\n"
    "  # for the " MTT_PROTO_SCOPE_PROCESS ", " MTT_PROTO_SCOPE_CGROUP " and " MTT_PROTO_SCOPE_GPU
    " scopes: whose\n"
    "  tracked_pid: ?int,\n"
    "  # for the " MTT_PROTO_SCOPE_GPU_DEVICE " scope: the one GPU it measures (none: all)\n"
    "  gpu: ?int,\n"
    "  # for the GPU scopes, while it runs: what NVML could not read at the last read (a\n"
    "  # GPU that was lost: its memory no longer counts)\n"
    "  gpu_error: ?string,\n"
    "  # sessions that ran at the same time as this one, and the first labels of them\n"
    "  overlaps: int,\n"
    "  overlapped_with: []string\n"
    ")\n"
    "\n"
    "type Reading (\n"
    "  # GiB in use: MemTotal - MemFree - Buffers - Cached - Slab\n"
    "  used: float,\n"
    "  mem_total_kb: int,\n"
    "  mem_free_kb: int,\n"
    "  buffers_kb: int,\n"
    "  cached_kb: int,\n"
    "  slab_kb: int\n"
    ")\n"
    "\n"
    "# Starts a session that writes its report into the file descriptor passed with this\n"
    "# call; fd is its index among the descriptors the message carries.\n"
    "# label: at most " LABEL_MAX " bytes.\n"
    "# job: at most " JOB_MAX " bytes of UTF-8 without control characters: the workload\n"
    "# manager's job the run belongs to (a Slurm job id such as 4242 or 4242_7, or a PBS,\n"
    "# LSF or SGE job); empty or left out: none.\n"
    "# min_interval_us: " MIN_INTERVAL_US_LO " to " MIN_INTERVAL_US_HI
    " (default " MIN_INTERVAL_US_DEFAULT ").\n"
    "# max_interval_s: " MAX_INTERVAL_S_LO " to " MAX_INTERVAL_S_HI
    " (default " MAX_INTERVAL_S_DEFAULT "), never below min_interval_us.\n"
    "# scope: " MTT_PROTO_SCOPE_SYSTEM " (the default: the machine, as memory_time_tracker "
    "measures), " MTT_PROTO_SCOPE_PROCESS "\n"
    "# (a process and its descendants: their Pss, else RSS), " MTT_PROTO_SCOPE_CGROUP
    " (its memory cgroup),\n"
    "# " MTT_PROTO_SCOPE_GPU " (the memory a process and its descendants hold on NVIDIA GPUs, "
    "summed over\n"
    "# the GPUs) or " MTT_PROTO_SCOPE_GPU_DEVICE
    " (the memory used on the GPUs, or on the one gpu names);\n"
    "# pid: whose (default: the caller's), a process the caller owns unless it is root.\n"
    "# gpu: 0 to " MTT_PROTO_STRINGIFY(
        MTT_PROTO_GPU_INDEX_MAX) ", NVML's index of a GPU, for "
                                 "the " MTT_PROTO_SCOPE_GPU_DEVICE " scope (default: all).\n"
                                 "# The GPU scopes need NVIDIA's NVML (libnvidia-ml.so.1) and a "
                                 "GPU: GpuUnavailable\n"
                                 "# says what is missing.\n"
                                 "# truncate: a regular file is emptied and written from its "
                                 "start, once the session\n"
                                 "# is open (default false): a client opens an existing report "
                                 "without O_TRUNC,\n"
                                 "# so a refused Open leaves it whole.\n"
                                 "method Open(fd: int, label: ?string, calibrate: ?bool, "
                                 "min_interval_us: ?int,\n"
                                 "            max_interval_s: ?int, scope: ?string, pid: ?int,\n"
                                 "            job: ?string, gpu: ?int, truncate: ?bool) -> "
                                 "(session: Session)\n"
                                 "\n"
                                 "# Ends a session: " MTT_PROTO_COMPLETED " and " MTT_PROTO_FAILED
                                 " write the last row and the ending, " MTT_PROTO_CRASHED "\n"
                                 "# writes the last row only. Replies once the report is written "
                                 "and synced.\n"
                                 "# outcome: " MTT_PROTO_COMPLETED ", " MTT_PROTO_FAILED
                                 " or " MTT_PROTO_CRASHED ".\n"
                                 "# cause: at most " CAUSE_MAX " bytes.\n"
                                 "method Close(id: int, outcome: string, cause: ?string) -> "
                                 "(session: Session)\n"
                                 "\n"
                                 "# The running sessions and the recently ended ones (by default "
                                 "the last " HISTORY_DEFAULT ").\n"
                                 "method List() -> (sessions: []Session)\n"
                                 "method Status(id: int) -> (session: Session)\n"
                                 "\n"
                                 "# Follows a session (call with \"more\"): the first reply is the "
                                 "session, then one\n"
                                 "# reply per row as it is made (id, delta, ram: the numbers of "
                                 "the report's row), and\n"
                                 "# the last reply is the session once it is finished (written and "
                                 "synced). Without id,\n"
                                 "# follows every session the caller may see: the running ones "
                                 "first (sessions), then\n"
                                 "# each one that opens or finishes (session) and each row; that "
                                 "stream has no end.\n"
                                 "# Another call on the connection ends the stream (and is "
                                 "answered).\n"
                                 "method Watch(id: ?int) -> (session: ?Session, sessions: "
                                 "?[]Session, id: ?int,\n"
                                 "                           delta: ?float, ram: ?float)\n"
                                 "\n"
                                 "# samples taken, rows they became and session feeds they served, "
                                 "since mttd started\n"
                                 "type Stats (\n"
                                 "  samples: int,\n"
                                 "  rows_written: int,\n"
                                 "  sessions_served: int,\n"
                                 "  sessions_per_sample: float,\n"
                                 "  running: int\n"
                                 ")\n"
                                 "\n"
                                 "# an NVIDIA GPU (NVML, loaded at run time): its memory in bytes, "
                                 "or what failed\n"
                                 "type Gpu (\n"
                                 "  index: int,\n"
                                 "  name: string,\n"
                                 "  used_bytes: int,\n"
                                 "  total_bytes: int,\n"
                                 "  error: ?string\n"
                                 ")\n"
                                 "\n"
                                 "# gpus: every NVIDIA GPU; gpu_error: why there are none (no "
                                 "driver, no device, ...)\n"
                                 "method Sample() -> (reading: Reading, stats: Stats, gpus: []Gpu, "
                                 "gpu_error: ?string)\n"
                                 "\n"
                                 "error NoSuchSession (id: int)\n"
                                 "error PermissionDenied (id: ?int, pid: ?int)\n"
                                 "error InvalidFileDescriptor (reason: string)\n"
                                 "error TooManySessions (limit: int)\n"
                                 "# Sent in place of a reply to the first call, on a connection "
                                 "refused at the limit\n"
                                 "# (scope: \"all\" or \"user\"); mttd then closes it.\n"
                                 "error TooManyConnections (limit: int, scope: string)\n"
                                 "error InvalidParameter (parameter: string, reason: string)\n"
                                 "error ProtocolError (reason: string)\n"
                                 "error InternalError (reason: string)\n"
                                 "# A GPU scope, where mttd cannot read NVIDIA GPUs: why (no "
                                 "driver, no GPU, no such GPU)\n"
                                 "error GpuUnavailable (reason: string)\n";

const char mtt_proto_service_description[] =
    "# The Varlink Service Interface is provided by every varlink service.\n"
    "interface org.varlink.service\n"
    "\n"
    "method GetInfo() -> (\n"
    "  vendor: string,\n"
    "  product: string,\n"
    "  version: string,\n"
    "  url: string,\n"
    "  interfaces: []string\n"
    ")\n"
    "\n"
    "method GetInterfaceDescription(interface: string) -> (description: string)\n"
    "\n"
    "error InterfaceNotFound (interface: string)\n"
    "error MethodNotFound (method: string)\n"
    "error MethodNotImplemented (method: string)\n"
    "error InvalidParameter (parameter: string)\n"
    "error PermissionDenied ()\n"
    "error ExpectedMore ()\n";

const char *mtt_proto_interface_description(const char *interface)
{
        if (strcmp(interface, MTT_PROTO_INTERFACE) == 0)
                return mtt_proto_tracker_description;
        if (strcmp(interface, MTT_PROTO_SERVICE) == 0)
                return mtt_proto_service_description;
        return NULL;
}

const char *const mtt_proto_scope_names[MTT_PROTO_SCOPES] = {
    MTT_PROTO_SCOPE_SYSTEM, MTT_PROTO_SCOPE_PROCESS,    MTT_PROTO_SCOPE_CGROUP,
    MTT_PROTO_SCOPE_GPU,    MTT_PROTO_SCOPE_GPU_DEVICE,
};

int mtt_proto_scope_of(const char *name)
{
        for (int i = 0; i < MTT_PROTO_SCOPES; i++)
                if (strcmp(name, mtt_proto_scope_names[i]) == 0)
                        return i;
        return -EINVAL;
}

int mtt_proto_error_to_errno(const char *error)
{
        static const struct {
                const char *name;
                int err;
        } map[] = {
            {MTT_PROTO_ERROR_NO_SUCH_SESSION, ENOENT},
            {MTT_PROTO_ERROR_PERMISSION_DENIED, EACCES},
            {MTT_PROTO_ERROR_INVALID_FD, EBADF},
            {MTT_PROTO_ERROR_TOO_MANY_SESSIONS, EUSERS},
            {MTT_PROTO_ERROR_TOO_MANY_CONNECTIONS, EUSERS},
            {MTT_PROTO_ERROR_INVALID_PARAMETER, EINVAL},
            {MTT_PROTO_ERROR_VARLINK_PARAMETER, EINVAL},
            {MTT_PROTO_ERROR_METHOD_NOT_FOUND, EOPNOTSUPP},
            {MTT_PROTO_ERROR_METHOD_NOT_IMPL, EOPNOTSUPP},
            {MTT_PROTO_ERROR_INTERFACE_NOT_FOUND, EOPNOTSUPP},
            {MTT_PROTO_ERROR_PROTOCOL, EPROTO},
            {MTT_PROTO_ERROR_GPU_UNAVAILABLE, ENODEV},
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                if (strcmp(map[i].name, error) == 0)
                        return -map[i].err;
        return -EIO;
}

static const char *fit(char *buf, size_t size, int n)
{
        return n > 0 && (size_t)n < size ? buf : NULL;
}

static const char *user_socket(char *buf, size_t size)
{
        const char *rt = getenv("XDG_RUNTIME_DIR");
        if (!rt || rt[0] != '/')
                return NULL;
        return fit(buf, size, snprintf(buf, size, "%s/mtt/%s", rt, MTT_PROTO_SOCKET_NAME));
}

const char *mtt_proto_client_socket(char *buf, size_t size)
{
        const char *env = getenv("MTT_SOCKET");
        if (env && env[0])
                return fit(buf, size, snprintf(buf, size, "%s", env));
        if (user_socket(buf, size) && access(buf, F_OK) == 0)
                return buf;
        return fit(buf, size, snprintf(buf, size, "%s", MTT_PROTO_SYSTEM_SOCKET));
}

const char *mtt_proto_daemon_socket(char *buf, size_t size)
{
        if (geteuid() != 0 && user_socket(buf, size))
                return buf;
        return fit(buf, size, snprintf(buf, size, "%s", MTT_PROTO_SYSTEM_SOCKET));
}

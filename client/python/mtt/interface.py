"""The io.mtt.Tracker interface's words and limits, as proto/interface.h defines them for the C
side. Python cannot include that header, so tests/python/test_interface.py checks these against
the interface text mttd serves (GetInterfaceDescription): a change on one side fails there."""

SCOPE_SYSTEM = "system"  # the machine, as memory_time_tracker measures (the default)
SCOPE_PROCESS = "process"  # a process and its descendants
SCOPE_CGROUP = "cgroup"  # a process's memory cgroup
SCOPE_GPU = "gpu"  # what a process and its descendants hold on NVIDIA GPUs
SCOPE_GPU_DEVICE = "gpu-device"  # the memory used on NVIDIA GPUs: every one, or Open's gpu
SCOPES = (SCOPE_SYSTEM, SCOPE_PROCESS, SCOPE_CGROUP, SCOPE_GPU, SCOPE_GPU_DEVICE)

# A session's state, and how Close may end one.
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CRASHED = "crashed"
ERROR = "error"  # mttd could not write the report
STATES = (RUNNING, COMPLETED, FAILED, CRASHED, ERROR)
OUTCOMES = (COMPLETED, FAILED, CRASHED)

# What mttd accepts (InvalidParameter beyond): bytes of Open's label, of its job and of
# Close's cause, and the ranges of Open's min_interval_us and max_interval_s (never below
# min_interval_us), with the daemon's defaults for the two.
MAX_LABEL = 256
MAX_JOB = 128
MAX_CAUSE = 1024
MIN_INTERVAL_US_RANGE = (100, 60000000)
MAX_INTERVAL_S_RANGE = (1, 86400)
MIN_INTERVAL_US_DEFAULT = 1000
MAX_INTERVAL_S_DEFAULT = 60
# Open's gpu (the gpu-device scope's one GPU, by NVML's index) goes from 0 to this.
GPU_INDEX_MAX = 63

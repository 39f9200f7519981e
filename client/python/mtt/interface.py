"""The io.mtt.Tracker interface's words and limits, as proto/interface.h defines them for the C
side. Python cannot include that header, so tests/python/test_interface.py checks these against
the interface text mttd serves (GetInterfaceDescription): a change on one side fails there."""

SCOPE_SYSTEM = "system"  # the machine, as memory_time_tracker measures (the default)
SCOPE_PROCESS = "process"  # a process and its descendants
SCOPE_CGROUP = "cgroup"  # a process's memory cgroup
SCOPES = (SCOPE_SYSTEM, SCOPE_PROCESS, SCOPE_CGROUP)

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

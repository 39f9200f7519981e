"""The three verdicts of a report file, as memory_time_tracker defines them: the last line
(trailing newlines and spaces aside) is "0,0" after a completed run, "-1,-1" after a graceful
crash, anything else after an ungraceful one. A missing file is a ValueError, not a verdict."""
import math
import os

COMPLETED = "completed"
CRASHED_GRACEFULLY = "crashed gracefully"
CRASHED_UNGRACEFULLY = "crashed ungracefully"

_TAIL = 256


def _last_line(path):
    if not os.path.exists(path):
        raise ValueError("The file at the provided path {path} does not exist.".format(path=path))
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - _TAIL))
        tail = f.read().rstrip(b"\r\n ")
    return tail.rsplit(b"\n", 1)[-1].decode(errors="replace")


def verdict(path):
    """"completed", "crashed gracefully" or "crashed ungracefully"."""
    last = _last_line(path)
    if last == "0,0":
        return COMPLETED
    if last == "-1,-1":
        return CRASHED_GRACEFULLY
    return CRASHED_UNGRACEFULLY


def has_completed_successfully(path):
    """Whether the run completed: the report ends with "0,0"."""
    return verdict(path) == COMPLETED


def has_crashed_gracefully(path):
    """Whether the run failed with a "normal" exception: the report ends with "-1,-1"."""
    return verdict(path) == CRASHED_GRACEFULLY


def has_crashed_ungracefully(path):
    """Whether the run died without a word (SIGKILL, OOM kill, segfault): no ending."""
    return verdict(path) == CRASHED_UNGRACEFULLY


def read_report(path):
    """The report's points as two lists (seconds, GiB), its sentinel rows dropped, and its
    verdict. A file that is not a report is a ValueError naming it."""
    v = verdict(path)
    times, rams = [], []
    with open(path, errors="replace") as f:
        lines = [(n, line.strip()) for n, line in enumerate(f, start=1)]
    if not lines or lines[0][1] != "delta,ram":
        raise ValueError("{}: not a report: the first line is not \"delta,ram\"".format(path))
    rows = [(n, line) for n, line in lines[1:] if line]
    for i, (n, line) in enumerate(rows):
        try:
            t, ram = (float(x) for x in line.split(","))
            if not (math.isfinite(t) and math.isfinite(ram)):
                raise ValueError(line)
        except ValueError:
            if i == len(rows) - 1 and v == CRASHED_UNGRACEFULLY:
                break  # a run killed mid-write may leave its last line torn
            raise ValueError("{}: not a report: line {} is not \"delta,ram\"".format(path, n))
        times.append(t)
        rams.append(ram)
    drop = {COMPLETED: 1, CRASHED_GRACEFULLY: 2}.get(v, 0)
    if len(times) <= drop:
        raise ValueError("{}: not a report: no data rows".format(path))
    return times[:len(times) - drop], rams[:len(rams) - drop], v

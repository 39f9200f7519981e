"""Report files: the verdicts, as memory_time_tracker defines them, and the rows, read by the
same rules as libmtt-client's reader (client/lib/report.c), so that mtt.verdict and
`mttctl check` agree on every file.

A report's first line is exactly "delta,ram" (a CR before its newline allowed). Every other
line is a row of two finite numbers "DELTA,RAM" (C's strtod syntax: decimal or hexadecimal,
spaces or tabs around each number) or blank (spaces and tabs). The endings "0,0" and "-1,-1"
are rows too; the last row (its trailing blanks aside) decides: "0,0" completed, "-1,-1"
crashed gracefully, anything else crashed ungracefully. A line that is not a row makes the
file "not a report", except the last one, which a writer killed mid-line may leave torn: it is
skipped and the run crashed ungracefully. A file of nothing but white space is empty, not a
report, and so is anything but a regular file (a FIFO is never opened, so nothing blocks). A
missing file is a ValueError, not a verdict."""
import errno
import math
import os
import re
import stat

COMPLETED = "completed"
CRASHED_GRACEFULLY = "crashed gracefully"
CRASHED_UNGRACEFULLY = "crashed ungracefully"
NOT_A_REPORT = "not a report"

_HEADER = b"delta,ram"
_SPACE = b" \t\r\n"  # what an empty file may hold
_DECIMAL = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_HEX = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
_NUMBER = r"[ \t]*([+-]?(?:{}|{}))[ \t]*".format(_HEX, _DECIMAL)
_ROW = re.compile(_NUMBER + "," + _NUMBER)


def _number(text):
    """A number as strtod reads it, or None where it is not finite."""
    try:
        v = float.fromhex(text) if "x" in text or "X" in text else float(text)
    except OverflowError:
        return None
    return v if math.isfinite(v) else None


def _row(line):
    """(delta, ram) of a row (bytes, without its newline), or None."""
    m = _ROW.fullmatch(line.decode("latin-1"))
    if not m:
        return None
    t, ram = _number(m.group(1)), _number(m.group(2))
    return None if t is None or ram is None else (t, ram)


def _ending(line):
    last = line.rstrip(b" \t")
    return COMPLETED if last == b"0,0" else CRASHED_GRACEFULLY if last == b"-1,-1" else \
        CRASHED_UNGRACEFULLY


def _open_regular(path):
    """The file opened for reading, or None when it is not a regular file."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(
            "The file at the provided path {path} does not exist.".format(path=path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(st.st_mode):
        return None  # never opened: a FIFO's open blocks until a writer comes
    f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped in between
        f.close()
        return None
    return f


def _header_reason(f):
    """None when the first line is the header, else why the file is not a report. At most one
    byte past "delta,ram\\r" is read first, so a big file without a newline is refused at once."""
    first = f.readline(len(_HEADER) + 2)
    line = first[:-1] if first.endswith(b"\n") else first
    whole = first.endswith(b"\n") or len(first) < len(_HEADER) + 2
    if whole and line in (_HEADER, _HEADER + b"\r"):
        return None
    empty = not first.strip(_SPACE)
    while empty:
        chunk = f.read(65536)
        if not chunk:
            break
        empty = not chunk.strip(_SPACE)
    return "the file is empty" if empty else 'the first line is not "delta,ram"'


def _read(path):
    """(verdict, reason, times, rams): every row, the endings' too; reason for NOT_A_REPORT."""
    f = _open_regular(path)
    if f is None:
        return NOT_A_REPORT, "not a regular file", [], []
    with f:
        reason = _header_reason(f)
        if reason:
            return NOT_A_REPORT, reason, [], []
        how, bad, times, rams = CRASHED_UNGRACEFULLY, 0, [], []
        for lineno, line in enumerate(f, start=2):
            line = line[:-1] if line.endswith(b"\n") else line
            line = line[:-1] if line.endswith(b"\r") else line
            if not line.strip(b" \t"):
                continue
            if bad:  # a line after the bad one: that one was not a torn last line
                reason = "line {} is not a data row of two finite numbers".format(bad)
                return NOT_A_REPORT, reason, [], []
            row = _row(line)
            if row is None:
                bad, how = lineno, CRASHED_UNGRACEFULLY  # skipped if it is the last
                continue
            how = _ending(line)
            times.append(row[0])
            rams.append(row[1])
    return how, None, times, rams


def verdict(path):
    """"completed", "crashed gracefully", "crashed ungracefully" or "not a report"."""
    return _read(path)[0]


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
    verdict. A file that is not a report is a ValueError naming it and why."""
    how, reason, times, rams = _read(path)
    if how == NOT_A_REPORT:
        raise ValueError("{}: not a report: {}".format(path, reason))
    drop = {COMPLETED: 1, CRASHED_GRACEFULLY: 2}.get(how, 0)
    if len(times) <= drop:
        raise ValueError("{}: not a report: no data rows".format(path))
    return times[:len(times) - drop], rams[:len(rams) - drop], how

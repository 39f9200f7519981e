"""Report files read by the Python package and by libmtt-client's reader (through
`mttctl check --json`): the same verdict, and the same reason for what is not a report, for
every file; and no answer that blocks, whatever the path names. Files are written by hand:
no daemon is needed."""
import contextlib
import json
import os
import signal
import socket
import subprocess

import pytest

import mtt

ROWS = b"0.000000,0.000412\n0.001003,0.000415\n12.503121,1.862113\n"
SEED = b"0,0.012\n0.10012340400012,1.5e-05\n2.013318768,0.498\n"

# name: (bytes, verdict)
CASES = {
    "completed.csv": (b"delta,ram\n" + ROWS + b"0,0\n", mtt.COMPLETED),
    "failed.csv": (b"delta,ram\n" + ROWS + b"0,0\n-1,-1\n", mtt.CRASHED_GRACEFULLY),
    "killed.csv": (b"delta,ram\n" + ROWS, mtt.CRASHED_UNGRACEFULLY),
    "header-only.csv": (b"delta,ram\n", mtt.CRASHED_UNGRACEFULLY),
    "header-no-newline.csv": (b"delta,ram", mtt.CRASHED_UNGRACEFULLY),
    "seed.csv": (b"delta,ram\n" + SEED + b"0,0\n\n", mtt.COMPLETED),
    "empty.csv": (b"", mtt.NOT_A_REPORT),
    "white-space.csv": (b" \n\t\r\n\n", mtt.NOT_A_REPORT),
    "passwd": (b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
               mtt.NOT_A_REPORT),
    "zeros.bin": (b"\0" * 100000, mtt.NOT_A_REPORT),
    "torn.csv": (b"delta,ram\n0.1,0.2\n0.2,0.3\n4.02", mtt.CRASHED_UNGRACEFULLY),
    "torn-comma.csv": (b"delta,ram\n0.1,0.2\n4.02,", mtt.CRASHED_UNGRACEFULLY),
    "torn-after-ending.csv": (b"delta,ram\n0.1,0.2\n0,0\n-1,", mtt.CRASHED_UNGRACEFULLY),
    "torn-then-blank.csv": (b"delta,ram\n0.1,0.2\n4.0\n\n \n", mtt.CRASHED_UNGRACEFULLY),
    "bad-middle.csv": (b"delta,ram\n0.1,0.2\nabc,0.3\n0.3,0.4\n0,0\n", mtt.NOT_A_REPORT),
    "bad-then-blank.csv": (b"delta,ram\n0.1,0.2\n4.0\n\n0,0\n", mtt.NOT_A_REPORT),
    "long-row.csv": (b"delta,ram\n0.1000000000000000055511151231257827021181583404541015625,0.5\n"
                     + b"1" + b"0" * 299 + b",0.25\n0.0" + b"0" * 4000 + b"1,1\n0,0\n",
                     mtt.COMPLETED),
    "past-dbl-max.csv": (b"delta,ram\n1" + b"0" * 400 + b",0.25\n0,0\n", mtt.NOT_A_REPORT),
    "crlf.csv": (b"delta,ram\r\n0.1,0.2\r\n0,0\r\n-1,-1\r\n\r\n", mtt.CRASHED_GRACEFULLY),
    "blank-trailing.csv": (b"delta,ram\n0.1,0.2\n0,0\n\n \n\t\n", mtt.COMPLETED),
    "blanks-around.csv": (b"delta,ram\n 0.1 ,\t0.2\t\n0,0 \n", mtt.COMPLETED),
    "strtod-forms.csv": (b"delta,ram\n1.,.5\n-0,+0\n1e-400,1E+3\n0x1.8p1,-0X.8\n0,0\n",
                         mtt.COMPLETED),
    "leading-blank-ending.csv": (b"delta,ram\n0.1,0.2\n 0,0\n", mtt.CRASHED_UNGRACEFULLY),
    "ending-look-alike.csv": (b"delta,ram\n0.000000,0.000000\n", mtt.CRASHED_UNGRACEFULLY),
    "nan.csv": (b"delta,ram\nnan,0.3\n0,0\n", mtt.NOT_A_REPORT),
    "inf.csv": (b"delta,ram\n0.1,inf\n0,0\n", mtt.NOT_A_REPORT),
    "hex-overflow.csv": (b"delta,ram\n0x1p5000,1\n0,0\n", mtt.NOT_A_REPORT),
    "underscore.csv": (b"delta,ram\n1_000,0.5\n0,0\n", mtt.NOT_A_REPORT),
    "arabic-digit.csv": ("delta,ram\n\u0661,0.5\n0,0\n".encode(), mtt.NOT_A_REPORT),
    "vertical-tab.csv": (b"delta,ram\n\v0.1,0.2\n0,0\n", mtt.NOT_A_REPORT),
    "nul.csv": (b"delta,ram\n0.1\0,0.2\n0,0\n", mtt.NOT_A_REPORT),
    "two-crs.csv": (b"delta,ram\n0.1,0.2\r\r\n0,0\n", mtt.NOT_A_REPORT),
    "three-numbers.csv": (b"delta,ram\n0.1,0.2,0.3\n0,0\n", mtt.NOT_A_REPORT),
    "latin1.csv": (b"delta,ram\n0.1,0.2\n\xe9\n0,0\n", mtt.NOT_A_REPORT),
    "header-cr.csv": (b"delta,ram\r", mtt.CRASHED_UNGRACEFULLY),
    "header-space.csv": (b"delta,ram \n0,0\n", mtt.NOT_A_REPORT),
    "header-long.csv": (b"delta,ram\rx\n0,0\n", mtt.NOT_A_REPORT),
    "blank-first.csv": (b"\ndelta,ram\n0,0\n", mtt.NOT_A_REPORT),
    "bom.csv": (b"\xef\xbb\xbfdelta,ram\n0,0\n", mtt.NOT_A_REPORT),
}


@contextlib.contextmanager
def deadline(seconds):
    """Fails the test, rather than hanging it, when the block does not end in time."""
    def expire(signum, frame):
        raise TimeoutError("no answer in {} s".format(seconds))
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def mttctl_check(paths):
    """`mttctl check --json` of the paths: {path: report object}."""
    mttctl = os.environ.get("MTTCTL")
    if not mttctl:
        pytest.skip("MTTCTL is not set")
    done = subprocess.run([mttctl, "check", "--json"] + paths, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode in (0, 1), done.stderr
    return {r["file"]: r for r in json.loads(done.stdout)["reports"]}


def reason_of(path):
    """Why Python's reader says path is not a report (read_report's message)."""
    with pytest.raises(ValueError) as e:
        mtt.reports.read_report(path)
    prefix = "{}: not a report: ".format(path)
    assert str(e.value).startswith(prefix)
    return str(e.value)[len(prefix):]


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, (data, _) in CASES.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = str(tmp_path / name)
    paths["fifo"] = str(tmp_path / "fifo")
    os.mkfifo(paths["fifo"])
    return paths


def test_the_constants_are_exported():
    assert (mtt.COMPLETED, mtt.CRASHED_GRACEFULLY, mtt.CRASHED_UNGRACEFULLY, mtt.NOT_A_REPORT) == (
        "completed", "crashed gracefully", "crashed ungracefully", "not a report")
    assert {"NOT_A_REPORT", "COMPLETED", "verdict"} <= set(mtt.__all__)


def test_verdicts(files):
    with deadline(20):
        got = {name: mtt.verdict(path) for name, path in files.items()}
    want = {name: v for name, (_, v) in CASES.items()}
    want["fifo"] = mtt.NOT_A_REPORT
    assert got == want
    for name, path in files.items():
        v = got[name]
        assert mtt.has_completed_successfully(path) == (v == mtt.COMPLETED)
        assert mtt.has_crashed_gracefully(path) == (v == mtt.CRASHED_GRACEFULLY)
        assert mtt.has_crashed_ungracefully(path) == (v == mtt.CRASHED_UNGRACEFULLY)


def test_python_and_c_agree(files):
    """Every file: one verdict, and for what is not a report one reason, on both sides."""
    c = mttctl_check(list(files.values()))
    with deadline(20):
        for name, path in files.items():
            py = mtt.verdict(path)
            assert c[path]["verdict"] == py, name
            if py == mtt.NOT_A_REPORT:
                assert c[path]["reason"] == reason_of(path), name
            else:
                assert "reason" not in c[path], name


def test_reasons(files):
    with deadline(20):
        assert reason_of(files["empty.csv"]) == "the file is empty"
        assert reason_of(files["white-space.csv"]) == "the file is empty"
        assert reason_of(files["passwd"]) == 'the first line is not "delta,ram"'
        assert reason_of(files["bad-middle.csv"]) == 'line 3 is not a data row of two finite numbers'
        assert reason_of(files["bad-then-blank.csv"]) == 'line 3 is not a data row of two finite numbers'
        assert reason_of(files["fifo"]) == "not a regular file"


def test_read_report_keeps_the_rows(files):
    times, rams, how = mtt.reports.read_report(files["long-row.csv"])
    assert how == mtt.COMPLETED
    assert times == [0.1, 1e299, 0.0]  # 0.000...1, 4000 zeros: below the smallest double
    assert rams == [0.5, 0.25, 1.0]
    times, rams, how = mtt.reports.read_report(files["torn.csv"])
    assert (times, rams, how) == ([0.1, 0.2], [0.2, 0.3], mtt.CRASHED_UNGRACEFULLY)
    times, rams, how = mtt.reports.read_report(files["crlf.csv"])
    assert (times, rams, how) == ([0.1], [0.2], mtt.CRASHED_GRACEFULLY)


def test_what_cannot_be_read(tmp_path):
    """A missing file is an error on both sides (a ValueError in Python), and so is a
    directory; a socket is no report."""
    missing, directory = str(tmp_path / "missing.csv"), str(tmp_path)
    with pytest.raises(ValueError):
        mtt.verdict(missing)
    with pytest.raises(IsADirectoryError):
        mtt.verdict(directory)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    with deadline(10):
        assert mtt.verdict(str(tmp_path / "sock")) == mtt.NOT_A_REPORT
    c = mttctl_check([missing, directory, str(tmp_path / "sock")])
    server.close()
    assert c[missing]["error"].startswith("No such file")
    assert c[directory]["error"] == "Is a directory"
    assert c[str(tmp_path / "sock")]["verdict"] == "not a report"

"""The mtt Python package against a real mttd: the seed's README example, the endings, a
benchmark loop of tracked runs, a SIGKILL inside a Tracker, verdicts that agree with mttctl,
plots, errors, installation."""
import json
import mmap
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import mtt

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "client", "python")


def example_function(fail=False):
    """The seed's README example, with memory: about 200 MB in 10 steps, held to the end."""
    arrays = []
    for _ in range(10):
        arrays.append(np.ones(20 * 1024 * 1024 // 8))
        if fail and len(arrays) == 10:
            raise RuntimeError("the example failed on purpose")
    return sum(len(a) for a in arrays)


def data_rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "delta,ram"
    return [tuple(map(float, line.split(","))) for line in lines[1:] if "." in line]


def test_completed(mttd, tmp_path):
    path = str(tmp_path / "logs" / "completed.csv")  # the directory is made
    with mtt.Tracker(path) as t:
        example_function()
    assert t.session["state"] == "completed"
    assert mtt.has_completed_successfully(path)
    assert not mtt.has_crashed_gracefully(path)
    assert not mtt.has_crashed_ungracefully(path)
    with open(path) as f:
        assert f.read().endswith("\n0,0\n")


def wait_for_level(session_id, socket_path, used_mib):
    """Until mttd has sampled the fake machine at used_mib for the session (up to 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        s = mtt.status(session_id, socket_path=socket_path)
        if s["peak"] + s["baseline"] >= used_mib / 1024 - 1e-6 or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def test_back_to_back_runs_start_at_zero(fake_mttd, tmp_path):
    """Our users' loop: A, B and C tracked one after the other. Each starts at 0, and what A
    held never shows in B (a baseline of the 2 s before B's Open read -0.54 GiB there)."""
    sock, meminfo = fake_mttd
    runs = [("a", 600, 1.5), ("b", 0, 1.0), ("c", 300, 0.5)]
    for name, extra_mib, seconds in runs:
        with mtt.Tracker(str(tmp_path / (name + ".csv")), socket_path=sock) as t:
            # The report has its header and first row as soon as the block runs.
            assert data_rows(t.file_name)[0] == (0.0, 0.0)
            meminfo.set(1000 + extra_mib)
            wait_for_level(t.id, sock, 1000 + extra_mib)
            time.sleep(seconds)
            meminfo.set(1000)
    for name, extra_mib, _ in runs:
        rams = [ram for _, ram in data_rows(str(tmp_path / (name + ".csv")))]
        assert rams[0] == 0.0 and min(rams) == 0.0, (name, rams)
        assert abs(max(rams) - extra_mib / 1024) < 1e-6, (name, rams)


def test_failed_and_the_exception_goes_on(mttd, tmp_path):
    path = str(tmp_path / "failed.csv")
    with pytest.raises(RuntimeError):
        with mtt.Tracker(path):
            example_function(fail=True)
    assert mtt.has_crashed_gracefully(path)
    with open(path) as f:
        assert f.read().endswith("\n0,0\n-1,-1\n")
    assert mtt.status(mtt.list_sessions()[-1]["id"])["cause"].startswith("raised RuntimeError")


def test_keyboard_interrupt_fails_the_session(mttd, tmp_path):
    path = str(tmp_path / "interrupted.csv")
    with pytest.raises(KeyboardInterrupt):
        with mtt.Tracker(path):
            raise KeyboardInterrupt
    assert mtt.has_crashed_gracefully(path)


def killed_inside_a_tracker(path):
    """A Python process that SIGKILLs itself inside a Tracker; its exit status."""
    code = textwrap.dedent("""
        import os, signal, sys, time
        sys.path.insert(0, {package!r})
        import mtt
        with mtt.Tracker({path!r}):
            x = bytearray(50 << 20)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)
        """).format(package=PACKAGE, path=path)
    return subprocess.run([sys.executable, "-c", code]).returncode


def test_sigkill_inside_a_tracker(mttd, tmp_path):
    path = str(tmp_path / "killed.csv")
    assert killed_inside_a_tracker(path) == -signal.SIGKILL
    assert mtt.has_crashed_ungracefully(path)  # the header and first row came with Open
    # mttd writes the row of the moment it saw the hangup a moment after the death.
    for _ in range(100):
        rows = data_rows(path)
        if rows[-1][0] >= 0.2:
            break
        time.sleep(0.05)
    assert len(rows) >= 2 and rows[-1][0] >= 0.2
    with open(path) as f:
        assert f.read().endswith("\n")  # whole lines


def test_verdicts_agree_with_mttctl(mttd, tmp_path):
    mttctl = os.environ.get("MTTCTL")
    if not mttctl:
        pytest.skip("MTTCTL is not set")
    paths = [str(tmp_path / name) for name in ("ok.csv", "failed.csv", "killed.csv")]
    with mtt.Tracker(paths[0]):
        pass
    with pytest.raises(OSError):
        with mtt.Tracker(paths[1]):
            raise OSError("no")
    killed_inside_a_tracker(paths[2])
    assert [mtt.verdict(p) for p in paths] == [
        "completed", "crashed gracefully", "crashed ungracefully"]
    for path in paths:
        out = subprocess.run([mttctl, "check", path], capture_output=True, text=True).stdout
        assert out.strip() == "{}: {}".format(path, mtt.verdict(path))


def test_plot_reports(mttd, tmp_path):
    paths = [str(tmp_path / name) for name in ("a.csv", "b.csv")]
    with mtt.Tracker(paths[0]):
        example_function()
    with pytest.raises(ValueError):
        with mtt.Tracker(paths[1]):
            raise ValueError("no")
    fig = mtt.plot_reports(paths)
    axis = fig.axes[0]
    assert len(axis.get_lines()) == 2
    labels = [t.get_text() for t in axis.get_legend().get_texts()]
    assert labels == ["a", "b (crashed gracefully)"]
    png = tmp_path / "plot.png"
    fig.savefig(png)
    assert png.stat().st_size > 10000
    with pytest.raises(ValueError):
        mtt.plot_reports([str(tmp_path / "missing.csv")])
    (tmp_path / "text.csv").write_text("not a report\n")
    with pytest.raises(ValueError, match="not a report"):
        mtt.plot_reports([str(tmp_path / "text.csv")])


def test_missing_file_is_a_value_error(mttd, tmp_path):
    for f in (mtt.has_completed_successfully, mtt.has_crashed_gracefully,
              mtt.has_crashed_ungracefully):
        with pytest.raises(ValueError):
            f(str(tmp_path / "nothing.csv"))


def test_sessions_and_errors(mttd, tmp_path):
    sample = mtt.sample()
    assert sample["reading"]["mem_total_kb"] > 0
    # The GPUs pass through: a list, and when it is empty, why.
    assert isinstance(sample["gpus"], list)
    assert sample["gpus"] or sample["gpu_error"]
    with mtt.Tracker(str(tmp_path / "s.csv"), label="listed") as t:
        assert mtt.status(t.id)["state"] == "running"
        assert any(s["label"] == "listed" for s in mtt.list_sessions())
    with pytest.raises(mtt.NoSuchSession):
        mtt.status(999999)
    with pytest.raises(mtt.DaemonUnreachable, match="nowhere.sock"):
        mtt.Tracker(str(tmp_path / "x.csv"), socket_path=str(tmp_path / "nowhere.sock")).__enter__()
    assert not os.path.exists(tmp_path / "x.csv")  # no daemon: the file is left alone


def test_refused_open_leaves_the_report(mttd, tmp_path):
    """mttd empties an existing report once the session is open: a refused Open (a label past
    mttd's 256 bytes) leaves yesterday's whole and makes no file where there was none; an
    accepted one replaces a longer old file entirely."""
    old = tmp_path / "old.csv"
    old.write_text("x" * 5000 + "\n")
    with pytest.raises(mtt.InvalidParameter):
        mtt.Tracker(str(old), label="l" * 300).__enter__()
    assert old.read_text() == "x" * 5000 + "\n"
    with pytest.raises(mtt.InvalidParameter):
        mtt.Tracker(str(tmp_path / "new.csv"), label="l" * 300).__enter__()
    assert not os.path.exists(tmp_path / "new.csv")
    with mtt.Tracker(str(old)):
        pass
    assert mtt.has_completed_successfully(str(old))
    assert "x" not in old.read_text()


def test_older_mttd_without_truncate(tmp_path):
    """An mttd from before Open's truncate refuses it: the file is emptied here, as it was,
    and Open is made again without it."""
    sock = str(tmp_path / "old.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(sock)
    server.listen(1)
    calls = []

    def serve():
        c, _ = server.accept()
        buf = b""
        while True:
            data = c.recv(65536)
            if not data:
                break
            buf += data
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                call = json.loads(msg)
                calls.append(call)
                if "truncate" in (call.get("parameters") or {}):
                    reply = {"error": "org.varlink.service.InvalidParameter",
                             "parameters": {"parameter": "truncate"}}
                else:
                    reply = {"parameters": {"session": {"id": 1, "state": "running"}}}
                c.sendall(json.dumps(reply).encode() + b"\0")
        c.close()

    thread = threading.Thread(target=serve)
    thread.start()
    old = tmp_path / "old.csv"
    old.write_text("yesterday\n")
    t = mtt.Tracker(str(old), socket_path=sock)
    try:
        t.__enter__()
    finally:
        if t._conn:
            t._conn.close()  # the fake's loop ends
        thread.join(10)
        server.close()
    assert [c["method"] for c in calls] == ["io.mtt.Tracker.Open"] * 2
    assert calls[0]["parameters"]["truncate"] is True
    assert "truncate" not in calls[1]["parameters"]
    assert old.read_text() == ""


def test_mttd_stopped_inside_a_tracker(fake_mttd, tmp_path):
    """mttd stopped while the block runs (no systemd to keep the session): leaving the block
    says the report has no ending, in words, not as a broken pipe."""
    sock, _ = fake_mttd
    path = str(tmp_path / "gone.csv")
    with pytest.raises(mtt.MttError) as e:
        with mtt.Tracker(path, socket_path=sock):
            pids = [p for p in os.listdir("/proc") if p.isdigit() and _is_mttd_on(p, sock)]
            assert len(pids) == 1
            os.kill(int(pids[0]), signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pids[0]) and time.monotonic() < deadline:
                time.sleep(0.01)
    assert str(e.value).startswith("the report {} has no ending (it reads as crashed "
                                   "ungracefully): mttd at {} closed the connection".format(
                                       path, sock))
    assert e.value.__suppress_context__
    assert mtt.has_crashed_ungracefully(path)


def _alive(pid):
    """Whether the process runs yet (not gone, not a zombie its parent has not reaped)."""
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _is_mttd_on(pid, sock):
    try:
        with open("/proc/{}/cmdline".format(pid), "rb") as f:
            return sock.encode() in f.read().split(b"\0")
    except OSError:
        return False


def test_verbose(mttd, tmp_path, capsys):
    with mtt.Tracker(str(tmp_path / "v.csv"), verbose=True):
        pass
    out = capsys.readouterr().out
    assert "Logging results into: " in out
    assert "the mean ram used by the system is" in out
    assert "The process took" in out


def test_pip_installs_it_offline(tmp_path):
    # From a copy: setuptools builds in the source tree.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-deps", "--no-index", "--target", str(tmp_path / "site"),
                        str(source)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    code = "import mtt; print(mtt.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(tmp_path / "site")), cwd=str(tmp_path))
    assert out.stdout.startswith(str(tmp_path / "site"))


def test_process_scope(mttd, tmp_path):
    """This process's own memory, not the machine's: 200 MB touched shows as about 0.19, in
    the peak and in the last row (a read made at Close). The pages are a mapping of their own:
    pages an earlier test freed but the allocator kept would be used again unseen."""
    path = str(tmp_path / "process.csv")
    with mtt.Tracker(path, scope="process") as t:
        pages = mmap.mmap(-1, 200 * 1024 * 1024)
        touched = np.frombuffer(pages, dtype=np.uint8)
        touched[:] = 1
    assert mtt.status(t.id)["scope"] == "process"
    rows = data_rows(path)
    assert 0.15 < max(ram for _, ram in rows) < 0.25, rows
    assert 0.15 < rows[-1][1] < 0.25, rows[-1]
    del touched
    pages.close()

"""The mtt Python package against a real mttd: the seed's README example, the endings, a
benchmark loop of tracked runs, a SIGKILL inside a Tracker, verdicts that agree with mttctl,
plots, errors, installation."""
import mmap
import os
import shutil
import signal
import subprocess
import sys
import textwrap
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

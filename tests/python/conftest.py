"""pytest fixtures: a real mttd on a socket in a temporary directory ($MTTD names the binary),
another on a fake /proc/meminfo for the system scope's values, one on the fake NVML
(tests/fake_nvml) for the GPU scopes, and the package under test from client/python (not an
installed copy)."""
import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "client", "python"))


def _start_mttd(directory, *args, env=None):
    """An mttd on directory/sock (its log beside it), once its socket is there."""
    binary = os.environ.get("MTTD")
    if not binary:
        pytest.fail("MTTD must name the mttd binary to test against")
    sock = str(directory / "sock")
    log = open(directory / "mttd.log", "w")
    proc = subprocess.Popen([binary, "--socket", sock, *args], stdout=log, stderr=log,
                            env=env)
    # The socket's file exists from bind() on; it answers once mttd listens.
    for _ in range(500):
        if os.path.exists(sock) and _accepts(sock):
            break
        if proc.poll() is not None:
            pytest.fail("mttd exited at start: see {}".format(directory / "mttd.log"))
        time.sleep(0.01)
    return proc, log, sock


def _accepts(sock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _stop_mttd(proc, log):
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    log.close()


@pytest.fixture(scope="session")
def mttd(tmp_path_factory):
    """The socket path of a running mttd; MTT_SOCKET points at it for the whole session."""
    proc, log, sock = _start_mttd(tmp_path_factory.mktemp("mttd"))
    os.environ["MTT_SOCKET"] = sock
    yield sock
    _stop_mttd(proc, log)


class FakeMeminfo:
    """A /proc/meminfo of our own whose "used" (the seed's MemTotal - MemFree - Buffers -
    Cached - Slab) is what the test says, in MiB. Rewritten in place with fixed-width numbers:
    mttd keeps the file open and must never read half of one value and half of another."""

    TOTAL_KB = 16 << 20

    def __init__(self, path, used_mib):
        self.path = str(path)
        self.set(used_mib)

    def set(self, used_mib):
        free = self.TOTAL_KB - used_mib * 1024 - 1000 - 20000 - 30000
        text = ("MemTotal:       {:12d} kB\nMemFree:        {:12d} kB\n"
                "Buffers:        {:12d} kB\nCached:         {:12d} kB\n"
                "Slab:           {:12d} kB\n").format(self.TOTAL_KB, free, 1000, 20000, 30000)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.pwrite(fd, text.encode(), 0)
        finally:
            os.close(fd)


@pytest.fixture
def fake_mttd(tmp_path):
    """An mttd of its own reading a fake meminfo at 1000 MiB used: (socket path, meminfo).
    The system scope's values are asserted against it, never against the live machine's."""
    meminfo = FakeMeminfo(tmp_path / "meminfo", 1000)
    d = tmp_path / "fake-mttd"
    d.mkdir()
    proc, log, sock = _start_mttd(d, "--meminfo", meminfo.path)
    yield sock, meminfo
    _stop_mttd(proc, log)


def fake_nvml_path():
    """The fake NVML library: $FAKE_NVML (run.sh's third argument), else where the build puts
    it beside mttd ($MTTD is BUILD/daemon/mttd). The build always makes it: missing, it fails."""
    path = os.environ.get("FAKE_NVML") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(os.environ.get("MTTD", "")))), "tests",
        "fake_nvml", "libfake-nvml.so")
    if not os.path.exists(path):
        pytest.fail("no fake NVML at {} (build the fake_nvml target, or set FAKE_NVML)".format(
            path))
    return path


class FakeGpus:
    """The fake NVML's state file (tests/fake_nvml/fake_nvml.c says its lines), written aside
    and renamed into place: mttd's NVML reads it whole at every call."""

    def __init__(self, path, *lines):
        self.path = str(path)
        self.set(*lines)

    def set(self, *lines):
        with open(self.path + ".new", "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.replace(self.path + ".new", self.path)


@pytest.fixture
def gpu_mttd(tmp_path):
    """An mttd of its own on the fake NVML and a fake meminfo: (socket path, FakeGpus), with
    no GPU until the test writes one."""
    gpus = FakeGpus(tmp_path / "nvml-state")
    meminfo = FakeMeminfo(tmp_path / "meminfo", 1000)
    d = tmp_path / "gpu-mttd"
    d.mkdir()
    env = dict(os.environ, FAKE_NVML_STATE=gpus.path)
    proc, log, sock = _start_mttd(d, "--meminfo", meminfo.path, "--nvml", fake_nvml_path(),
                                  env=env)
    yield sock, gpus
    _stop_mttd(proc, log)


@pytest.fixture
def no_nvml_mttd(tmp_path):
    """An mttd of its own whose NVML library is missing: its socket path."""
    d = tmp_path / "no-nvml-mttd"
    d.mkdir()
    proc, log, sock = _start_mttd(d, "--nvml", "/nonexistent/libnvidia-ml.so.1")
    yield sock
    _stop_mttd(proc, log)

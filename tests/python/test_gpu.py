"""The GPU scopes from Python: Tracker(scope="gpu") (what this process and its descendants
hold on NVIDIA GPUs), Tracker(scope="gpu-device", gpu=N) (what is used on one GPU, or on all),
GpuUnavailable with mttd's reason, and what the Tracker refuses before it asks mttd. mttd
reads the fake NVML (tests/fake_nvml), whose state the test writes."""
import errno
import os
import time

import pytest

import mtt
from mtt.interface import GPU_INDEX_MAX, SCOPE_GPU, SCOPE_GPU_DEVICE

GIB = 1 << 30
GPU0 = 'device 0 "Fake A" total {} used {}'
GPU1 = 'device 1 "Fake B" total {} used {}'


def data_rows(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "delta,ram"
    return [tuple(map(float, line.split(","))) for line in lines[1:] if "." in line]


def wait_for_peak(session_id, socket_path, gib):
    """Until mttd's session has seen gib at its peak (up to 20 s): the test holds the value
    that long, whatever the machine's load."""
    deadline = time.monotonic() + 20
    while True:
        s = mtt.status(session_id, socket_path=socket_path)
        if s["peak"] >= gib - 1e-6:
            return s
        assert time.monotonic() < deadline, s
        time.sleep(0.02)


def test_gpu_scope_is_this_process_tree(gpu_mttd, tmp_path):
    """1 GiB this process holds on GPU 0, not the 3 GiB the GPU has in use."""
    sock, gpus = gpu_mttd
    gpus.set(GPU0.format(80 * GIB, 3 * GIB))
    path = str(tmp_path / "gpu.csv")
    with mtt.Tracker(path, socket_path=sock, scope="gpu") as t:
        gpus.set(GPU0.format(80 * GIB, 3 * GIB), "process 0 {} {}".format(os.getpid(), GIB))
        wait_for_peak(t.id, sock, 1.0)
    assert t.session["state"] == "completed"
    assert mtt.has_completed_successfully(path)
    s = mtt.status(t.id, socket_path=sock)
    assert s["scope"] == SCOPE_GPU and s["tracked_pid"] == os.getpid()
    rams = [ram for _, ram in data_rows(path)]
    assert rams[0] == 0.0, rams  # nothing held at Open
    assert abs(max(rams) - 1.0) < 1e-3, rams


def test_gpu_scope_of_another_pid(gpu_mttd, tmp_path):
    """pid names whose tree, as for the process scope: another process's GPU memory counts,
    this one's does not."""
    sock, gpus = gpu_mttd
    gpus.set(GPU0.format(80 * GIB, 3 * GIB))
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    try:
        path = str(tmp_path / "pid.csv")
        with mtt.Tracker(path, socket_path=sock, scope="gpu", pid=child) as t:
            gpus.set(GPU0.format(80 * GIB, 3 * GIB), "process 0 {} {}".format(child, 2 * GIB),
                     "process 0 {} {}".format(os.getpid(), GIB))
            wait_for_peak(t.id, sock, 2.0)
        assert mtt.status(t.id, socket_path=sock)["tracked_pid"] == child
        assert abs(max(ram for _, ram in data_rows(path)) - 2.0) < 1e-3
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)


def test_gpu_device_of_one_gpu(gpu_mttd, tmp_path):
    """gpu=1: GPU 1's used memory alone (5 GiB, then 6), never GPU 0's 2 GiB beside it."""
    sock, gpus = gpu_mttd
    gpus.set(GPU0.format(80 * GIB, 2 * GIB), GPU1.format(80 * GIB, 5 * GIB))
    path = str(tmp_path / "dev1.csv")
    with mtt.Tracker(path, socket_path=sock, scope="gpu-device", gpu=1, calibrate=False) as t:
        assert t.session["gpu"] == 1
        gpus.set(GPU0.format(80 * GIB, 2 * GIB), GPU1.format(80 * GIB, 6 * GIB))
        wait_for_peak(t.id, sock, 6.0)
    s = mtt.status(t.id, socket_path=sock)
    assert s["scope"] == SCOPE_GPU_DEVICE and s["gpu"] == 1
    rams = [ram for _, ram in data_rows(path)]
    assert abs(min(rams) - 5.0) < 1e-3 and abs(max(rams) - 6.0) < 1e-3, rams


def test_gpu_device_of_every_gpu(gpu_mttd, tmp_path):
    """No gpu: every GPU's used memory, summed (7 GiB, then 8)."""
    sock, gpus = gpu_mttd
    gpus.set(GPU0.format(80 * GIB, 2 * GIB), GPU1.format(80 * GIB, 5 * GIB))
    path = str(tmp_path / "all.csv")
    with mtt.Tracker(path, socket_path=sock, scope="gpu-device", calibrate=False) as t:
        assert "gpu" not in t.session
        gpus.set(GPU0.format(80 * GIB, 3 * GIB), GPU1.format(80 * GIB, 5 * GIB))
        wait_for_peak(t.id, sock, 8.0)
    rams = [ram for _, ram in data_rows(path)]
    assert abs(min(rams) - 7.0) < 1e-3 and abs(max(rams) - 8.0) < 1e-3, rams


def test_no_such_gpu(gpu_mttd, tmp_path):
    """No GPU 5: refused before the report is touched (yesterday's is still there)."""
    sock, gpus = gpu_mttd
    gpus.set(GPU0.format(80 * GIB, 2 * GIB))
    old = tmp_path / "g5.csv"
    old.write_text("delta,ram\n0,0\n")
    with pytest.raises(mtt.GpuUnavailable) as e:
        mtt.Tracker(str(old), socket_path=sock, scope="gpu-device", gpu=5).__enter__()
    assert e.value.error == "io.mtt.Tracker.GpuUnavailable"
    assert e.value.reason == "no GPU 5: mttd sees 1 NVIDIA GPU"
    assert str(e.value) == "cannot track GPU memory: " + e.value.reason
    assert e.value.errno == errno.ENODEV
    assert isinstance(e.value, mtt.MttError)
    assert old.read_text() == "delta,ram\n0,0\n"


def test_no_nvml(no_nvml_mttd, tmp_path):
    """Without NVML, both GPU scopes say so, in mttd's words: the library it could not load."""
    old = tmp_path / "nog.csv"
    old.write_text("kept\n")
    for scope in (SCOPE_GPU, SCOPE_GPU_DEVICE):
        with pytest.raises(mtt.GpuUnavailable, match="libnvidia-ml.so.1"):
            mtt.Tracker(str(old), socket_path=no_nvml_mttd, scope=scope).__enter__()
    assert old.read_text() == "kept\n"  # refused before it was touched
    # The other scopes go on.
    with mtt.Tracker(str(tmp_path / "ram.csv"), socket_path=no_nvml_mttd) as t:
        pass
    assert t.session["state"] == "completed"


@pytest.mark.parametrize("kwargs", [
    {"scope": "process", "gpu": 0},
    {"gpu": 0},
    {"scope": "gpu", "gpu": 0},
    {"scope": "gpu-device", "gpu": GPU_INDEX_MAX + 1},
    {"scope": "gpu-device", "gpu": -1},
    {"scope": "gpu-device", "gpu": "0"},
    {"scope": "gpu-device", "gpu": True},
])
def test_gpu_refused_before_mttd(tmp_path, kwargs):
    """gpu is the gpu-device scope's, an int from 0 to 63: anything else is a ValueError when
    the Tracker is made, and no file is touched."""
    path = tmp_path / "refused.csv"
    with pytest.raises(ValueError, match="gpu"):
        mtt.Tracker(str(path), socket_path=str(tmp_path / "nowhere.sock"), **kwargs)
    assert not path.exists()


def test_highest_gpu_index_is_accepted(tmp_path):
    t = mtt.Tracker(str(tmp_path / "x.csv"), socket_path=str(tmp_path / "nowhere.sock"),
                    scope="gpu-device", gpu=GPU_INDEX_MAX)
    assert t.gpu == GPU_INDEX_MAX
    with pytest.raises(mtt.DaemonUnreachable):
        t.__enter__()


def test_the_error_is_exported():
    assert "GpuUnavailable" in mtt.__all__
    e = mtt.errors.from_reply("io.mtt.Tracker.GpuUnavailable", {"reason": "no NVIDIA GPU"})
    assert isinstance(e, mtt.GpuUnavailable) and isinstance(e, OSError)
    assert str(e) == "cannot track GPU memory: no NVIDIA GPU" and e.reason == "no NVIDIA GPU"

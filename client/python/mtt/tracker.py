"""Tracker: memory_time_tracker's context manager, served by mttd. Entering opens a session
on a report file the caller creates (mttd never opens a path), leaving closes it completed,
or failed when the block raised. Nothing sleeps: mttd's baseline is the machine's level at the
moment the session opens, so entering and leaving cost milliseconds where the seed's cost
11 s, and runs tracked back to back each start at 0."""
import os
import stat
import time

from . import job as jobs
from .errors import GpuUnavailable, InvalidParameter, MttError
from .interface import (COMPLETED, ERROR, FAILED, GPU_INDEX_MAX, MAX_CAUSE, SCOPE_GPU,
                        SCOPE_GPU_DEVICE, SCOPE_SYSTEM)
from .varlink import Connection


def _gpus_there(conn, scope, gpu):
    """For a GPU scope, whether mttd reads the GPUs it needs, asked (Sample) before the report
    is touched; GpuUnavailable if it reads none, or not that one. Open has the last word."""
    if scope not in (SCOPE_GPU, SCOPE_GPU_DEVICE):
        return
    sample = conn.call("Sample")
    gpus = sample.get("gpus") or []
    if not gpus:
        reason = sample.get("gpu_error") or "mttd sees no NVIDIA GPU"
    elif gpu is not None and gpu >= len(gpus):
        reason = "no GPU {}: mttd sees {} NVIDIA GPU{}".format(
            gpu, len(gpus), "" if len(gpus) == 1 else "s")
    else:
        return
    raise GpuUnavailable("cannot track GPU memory: " + reason, "io.mtt.Tracker.GpuUnavailable",
                         {"reason": reason})


def _open_report(conn, path, params):
    """Open into the file at path, made with the caller's permissions where there is none.
    mttd empties an existing one once the session is open (truncate), so a refused Open
    leaves it whole; a file made here goes again when the Open fails. The session object
    mttd answered."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        made = True
    except FileExistsError:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        made = False
    try:
        try:
            session = conn.call("Open", dict(params, truncate=True), fds=[fd])["session"]
        except InvalidParameter as e:
            if e.error != "org.varlink.service.InvalidParameter" or \
                    e.parameters.get("parameter") != "truncate":
                raise
            if stat.S_ISREG(os.fstat(fd).st_mode):  # an mttd from before truncate: emptied
                os.ftruncate(fd, 0)                 # here, as it was
            session = conn.call("Open", params, fds=[fd])["session"]
        if session.get("state") == ERROR:
            raise MttError("the report {} could not be written: {}".format(
                path, session.get("error")), None, session)
        return session
    except BaseException:
        if made:  # this file, not one put there since by someone else
            try:
                there, ours = os.lstat(path), os.fstat(fd)
                if (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino):
                    os.unlink(path)
            except OSError:
                pass
        raise
    finally:
        os.close(fd)  # mttd holds its own copy


def _cause(exc_type, exc_value):
    """What the block raised, within the MAX_CAUSE bytes mttd takes."""
    try:
        text = "raised {}: {}".format(exc_type.__name__, exc_value)
    except Exception:
        text = "raised {}".format(exc_type.__name__)
    return text.encode()[:MAX_CAUSE].decode("utf-8", "ignore")


class Tracker:
    """Tracks the block it guards into the CSV report file_name.

    The seed's parameters are all accepted. end_delay, start_delay and calibration_seconds
    made the seed sleep and are not needed here (mttd's baseline is the level at the moment the
    session opened, which what ran before never leaks into); calibrate=False gives raw used
    GiB. Once the block is entered, the report file exists with its header. Beyond the seed: label,
    socket_path, min_interval_us, max_interval_s, and scope: "system" (the machine, as the
    seed measures), "process" (this process, or pid, and its descendants), "cgroup" (its
    memory cgroup), "gpu" (the memory this process, or pid, and its descendants hold on NVIDIA
    GPUs, summed over the GPUs) or "gpu-device" (the memory used on the NVIDIA GPUs: every
    one, or GPU gpu alone, NVML's index 0 to 63 as nvidia-smi numbers them; gpu is for this
    scope only: ValueError otherwise). Where mttd cannot read NVIDIA GPUs (no NVML, no GPU, no
    GPU of that index) entering raises GpuUnavailable, with mttd's reason. And job: the
    workload manager's job the run belongs to, shown with the session. None (the default)
    takes the one the environment names when the block is entered (Slurm, PBS, LSF or SGE, as
    mtt.job.from_env reads them), "" none, any other value that job (mttd refuses one that is
    not at most 128 bytes of UTF-8 without control characters: InvalidParameter)."""

    def __init__(self, file_name, end_delay=4, calibrate=True, calibration_seconds=2,
                 verbose=False, start_delay=5, *, label=None, socket_path=None,
                 min_interval_us=None, max_interval_s=None, scope=SCOPE_SYSTEM, pid=None,
                 job=None, gpu=None):
        if gpu is not None:
            if scope != SCOPE_GPU_DEVICE:
                raise ValueError("gpu is for scope={!r} only".format(SCOPE_GPU_DEVICE))
            if isinstance(gpu, bool) or not isinstance(gpu, int) or \
                    not 0 <= gpu <= GPU_INDEX_MAX:
                raise ValueError("gpu: an NVIDIA GPU's index, 0 to {}, not {!r}".format(
                    GPU_INDEX_MAX, gpu))
        self.file_name = file_name
        self.end_delay = end_delay
        self.calibrate = calibrate
        self.calibration_seconds = calibration_seconds
        self.verbose = verbose
        self.start_delay = start_delay
        self.label = label if label is not None else os.path.basename(file_name)
        self.socket_path = socket_path
        self.min_interval_us = min_interval_us
        self.max_interval_s = max_interval_s
        self.scope = scope
        self.pid = pid
        self.job = job
        self.gpu = gpu
        self.session = None  # what mttd said of it, at open and then at close
        self._conn = None
        directory = os.path.dirname(file_name)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if verbose:
            print("Logging results into: {}".format(file_name))

    @property
    def id(self):
        return self.session["id"] if self.session else None

    def __enter__(self):
        # Connect first: without a daemon the report file is left alone.
        conn = Connection(self.socket_path)
        try:
            _gpus_there(conn, self.scope, self.gpu)  # no GPU, no truncated report either
            self.session = _open_report(conn, self.file_name, self._open_params())
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.start_time = time.time()
        if self.verbose:
            print("Calibration done, the mean ram used by the system is {} Gb".format(
                self.session.get("baseline")))
        return self

    def _open_params(self):
        params = {"fd": 0, "label": self.label, "calibrate": bool(self.calibrate)}
        if self.min_interval_us:
            params["min_interval_us"] = int(self.min_interval_us)
        if self.max_interval_s:
            params["max_interval_s"] = int(self.max_interval_s)
        if self.scope != SCOPE_SYSTEM:
            params["scope"] = self.scope
        if self.pid:
            params["pid"] = int(self.pid)
        if self.gpu is not None:
            params["gpu"] = self.gpu
        job = jobs.from_env() if self.job is None else str(self.job)
        if job:
            params["job"] = job
        return params

    def __exit__(self, exc_type, exc_value, traceback):
        self.end_time = time.time()
        failed = exc_type is not None
        try:
            params = {"id": self.id, "outcome": FAILED if failed else COMPLETED}
            if failed:
                params["cause"] = _cause(exc_type, exc_value)
            # The reply comes once the report is written and synced.
            self.session = self._conn.call("Close", params)["session"]
        except Exception as e:
            if failed:
                pass  # the block's own exception is the one that matters
            elif isinstance(e, MttError) and e.error is None:  # mttd went, nothing kept it
                raise MttError("the report {} has no ending (it reads as crashed "
                               "ungracefully): {} before the session's Close (it stopped, or "
                               "crashed)".format(self.file_name, e)) from None
            else:
                raise
        finally:
            self._conn.close()
            self._conn = None
        if self.verbose:
            if failed:
                print("The program had an exception {}".format(exc_value))
            print("The peak ram used by the process was {} Gb".format(self.session.get("peak")))
            print("The process took {} seconds".format(self.end_time - self.start_time))
        if not failed and self.session.get("state") == ERROR:
            # A failed write says "error"; a session mttd could not resume says its cause.
            raise MttError("the report {} could not be written: {}".format(
                self.file_name, self.session.get("error") or self.session.get("cause")),
                None, self.session)
        return False  # an exception in the block goes on, KeyboardInterrupt included

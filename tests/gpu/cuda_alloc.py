#!/usr/bin/env python3
"""A known GPU memory profile for check-h200.sh, through the CUDA driver API (libcuda.so.1,
which comes with NVIDIA's driver) and ctypes alone: no CUDA toolkit, nothing from pip.

On GPU 0: its primary context; 1 GiB allocated and written; 1 s; 4 GiB more, written, held 50 ms,
freed; 1 s; the 1 GiB freed; the context released. Its last line on stderr is one JSON
object: each step's time (CLOCK_MONOTONIC through time.monotonic(), seconds since this
process started; the start itself as monotonic and wall-clock seconds, so that a session's
wall-clock start maps onto it) and what cuMemGetInfo said after each step (free and total
bytes of the device), from which the script finds the context's overhead and the peak.

Exit status: 0 done; 2 no CUDA here (no libcuda.so.1, cuInit failed, no GPU): nothing to
check; 1 a CUDA call failed on the way.

--fake-nvml-state FILE: no CUDA; the same steps and timing played on tests/fake_nvml's state
file (a GPU's used bytes, this process's line), for a dry run of check-h200.sh without a GPU.
"""
import ctypes
import json
import os
import sys
import time

START_MONO = time.monotonic()
START_WALL = time.time()

GIB = 1 << 30
FIRST = 1 * GIB
SECOND = 4 * GIB
HOLD_S = 0.05
PLATEAU_S = 1.0


def now():
    return time.monotonic() - START_MONO


class CudaError(Exception):
    def __init__(self, call, code, words):
        super().__init__(f"{call} failed: {code} ({words})")
        self.call = call
        self.code = code


class Cuda:
    """The driver API calls used here, with their versioned names (as cuda.h maps them)."""

    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")
        self.ctx = ctypes.c_void_p()

    def words(self, code):
        s = ctypes.c_char_p()
        try:
            if self.lib.cuGetErrorString(code, ctypes.byref(s)) == 0 and s.value:
                return s.value.decode(errors="replace")
        except AttributeError:
            pass
        return "CUDA error"

    def call(self, name, *args):
        code = getattr(self.lib, name)(*args)
        if code != 0:
            raise CudaError(name, code, self.words(code))

    def init(self):
        self.call("cuInit", ctypes.c_uint(0))
        dev = ctypes.c_int()
        self.call("cuDeviceGet", ctypes.byref(dev), ctypes.c_int(0))
        self.dev = dev
        name = ctypes.create_string_buffer(256)
        self.call("cuDeviceGetName", name, ctypes.c_int(len(name)), dev)
        bus = ctypes.create_string_buffer(32)
        self.call("cuDeviceGetPCIBusId", bus, ctypes.c_int(len(bus)), dev)
        version = ctypes.c_int()
        self.call("cuDriverGetVersion", ctypes.byref(version))
        return name.value.decode(errors="replace"), bus.value.decode(errors="replace"), version.value

    def create_context(self):
        # The device's primary context, as the CUDA runtime (and every framework) uses: its
        # calls are in every driver since CUDA 7, whatever cuCtxCreate's version of the day.
        self.primary = hasattr(self.lib, "cuDevicePrimaryCtxRetain")
        if self.primary:
            self.call("cuDevicePrimaryCtxRetain", ctypes.byref(self.ctx), self.dev)
            self.call("cuCtxSetCurrent", self.ctx)
        else:
            self.call("cuCtxCreate_v2", ctypes.byref(self.ctx), ctypes.c_uint(0), self.dev)

    def destroy_context(self):
        if not self.primary:
            self.call("cuCtxDestroy_v2", self.ctx)
        elif hasattr(self.lib, "cuDevicePrimaryCtxRelease_v2"):
            self.call("cuDevicePrimaryCtxRelease_v2", self.dev)
        else:
            self.call("cuDevicePrimaryCtxRelease", self.dev)

    def mem_info(self):
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self.call("cuMemGetInfo_v2", ctypes.byref(free), ctypes.byref(total))
        return free.value, total.value

    def alloc(self, size):
        ptr = ctypes.c_uint64()
        self.call("cuMemAlloc_v2", ctypes.byref(ptr), ctypes.c_size_t(size))
        return ptr.value

    def touch(self, ptr, size):
        self.call("cuMemsetD8_v2", ctypes.c_uint64(ptr), ctypes.c_ubyte(0x5A), ctypes.c_size_t(size))
        self.call("cuCtxSynchronize")

    def free(self, ptr):
        self.call("cuMemFree_v2", ctypes.c_uint64(ptr))


class FakeCuda:
    """The same steps on tests/fake_nvml's state file: GPU 0's used bytes and this process's
    line change as CUDA's would (a context of 500 MiB), nothing else."""

    CONTEXT = 500 << 20

    def __init__(self, path):
        self.path = path
        self.lines = []
        self.total = 0
        self.used = 0
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) >= 7 and w[0] == "device" and w[1] == "0":
                    self.total, self.used = int(w[-3]), int(w[-1])
                    self.name = line.split('"')[1]
                else:
                    self.lines.append(line.rstrip("\n"))
        if not self.total:
            raise CudaError("fake cuInit", 100, "no device 0 in " + path)
        self.mine = 0
        self.blocks = {}

    def write(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f'device 0 "{self.name}" total {self.total} used {self.used + self.mine}\n')
            if self.mine:
                f.write(f"process 0 {os.getpid()} {self.mine}\n")
            for line in self.lines:
                f.write(line + "\n")
        os.rename(tmp, self.path)

    def init(self):
        return self.name, "fake", 0

    def create_context(self):
        self.mine += self.CONTEXT
        self.write()

    def destroy_context(self):
        self.mine = 0
        self.write()

    def mem_info(self):
        return self.total - self.used - self.mine, self.total

    def alloc(self, size):
        self.mine += size
        self.blocks[len(self.blocks) + 1] = size
        self.write()
        return len(self.blocks)

    def touch(self, ptr, size):
        pass

    def free(self, ptr):
        self.mine -= self.blocks.pop(ptr)
        self.write()


def main(argv):
    out = {"cuda_alloc": 1, "pid": os.getpid(), "start_mono": START_MONO, "start_wall": START_WALL,
           "first_bytes": FIRST, "second_bytes": SECOND, "hold_s": HOLD_S, "steps": {}, "mem": {}}
    steps, mem = out["steps"], out["mem"]

    def step(name):
        steps[name] = now()

    def report():
        # The wall clock read again next to the monotonic one: how far they drifted apart.
        out["end_mono"], out["end_wall"] = time.monotonic(), time.time()
        sys.stderr.write(json.dumps(out) + "\n")
        sys.stderr.flush()

    fake = None
    if len(argv) == 3 and argv[1] == "--fake-nvml-state":
        fake = argv[2]
    elif len(argv) != 1:
        sys.stderr.write("usage: cuda_alloc.py [--fake-nvml-state FILE]\n")
        return 2
    try:
        cuda = FakeCuda(fake) if fake else Cuda()
    except OSError as e:
        sys.stderr.write(f"cuda_alloc: no libcuda.so.1 ({e}): no NVIDIA driver here\n")
        return 2
    try:
        out["device"], out["pci_bus_id"], out["driver_api"] = cuda.init()
    except CudaError as e:
        sys.stderr.write(f"cuda_alloc: no CUDA GPU to use: {e}\n")
        return 2
    step("init")
    try:
        cuda.create_context()
        step("context")
        mem["free_after_context"], mem["total"] = cuda.mem_info()
        step("alloc_first_begin")
        first = cuda.alloc(FIRST)
        step("alloc_first_end")
        cuda.touch(first, FIRST)
        mem["free_after_first"], _ = cuda.mem_info()
        step("plateau_begin")
        time.sleep(PLATEAU_S)
        step("alloc_second_begin")
        second = cuda.alloc(SECOND)
        step("alloc_second_end")
        cuda.touch(second, SECOND)
        mem["free_at_peak"], _ = cuda.mem_info()
        step("hold_begin")
        time.sleep(HOLD_S)
        step("hold_end")
        cuda.free(second)
        step("free_second_end")
        mem["free_after_second_freed"], _ = cuda.mem_info()
        step("plateau2_begin")
        time.sleep(PLATEAU_S)
        step("free_first_begin")
        cuda.free(first)
        step("free_first_end")
        mem["free_after_first_freed"], _ = cuda.mem_info()
        cuda.destroy_context()
        step("context_destroyed")
    except CudaError as e:
        out["error"] = str(e)
        sys.stderr.write(f"cuda_alloc: {e}\n")
        report()
        return 1
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""What a Python Tracker costs and what a benchmark loop of them reads, against a running mttd
($MTT_SOCKET), on this machine:
- the whole of what `with mtt.Tracker(path): pass` costs, report synced (the seed's take 11 s);
- three runs tracked back to back (the machine scope, as the seed measures), each holding
  200 MiB: each should start at 0, whatever ran just before it, and peak where the seed's
  formula itself moved (read here from /proc/meminfo, before and while the block runs: on
  some machines, VMs above all, it moves less than what a run holds).
Usage: PYTHONPATH=client/python MTT_SOCKET=... python3 tests/bench/tracker_bench.py [N]"""
import os
import statistics
import sys
import tempfile
import time

import mtt

MIB = 1 << 20


def enter_exit(n, directory):
    path = os.path.join(directory, "bench.csv")
    times = []
    for _ in range(n):
        start = time.perf_counter()
        with mtt.Tracker(path):
            pass
        times.append(time.perf_counter() - start)
    times.sort()
    print("Tracker enter+exit, {} times: median {:.2f} ms, p99 {:.2f} ms".format(
        n, statistics.median(times) * 1e3, times[int(n * 0.99) - 1] * 1e3))


def used_gib():
    """The seed's formula: MemTotal - MemFree - Buffers - Cached - Slab."""
    kb = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, value = line.split(":")
            kb[key] = int(value.split()[0])
    return (kb["MemTotal"] - kb["MemFree"] - kb["Buffers"] - kb["Cached"] - kb["Slab"]) / MIB


def loop(directory, runs=3, size=200 * MIB, hold_s=1.0):
    for i in range(runs):
        path = os.path.join(directory, "run{}.csv".format(i))
        with mtt.Tracker(path):
            before = used_gib()
            block = b"\x01" * size  # written through: resident, not just reserved
            time.sleep(hold_s)
            moved = used_gib() - before
            del block
        with open(path) as f:
            rams = [float(line.split(",")[1]) for line in f.read().splitlines()[1:]
                    if "." in line]
        print("loop run {}: first row {:+.4f} GiB, lowest {:+.4f}, peak {:+.4f} (the formula "
              "moved {:+.4f} for {:.4f} GiB held)".format(i + 1, rams[0], min(rams), max(rams),
                                                       moved, size / (1 << 30)))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        enter_exit(int(sys.argv[1]) if len(sys.argv) > 1 else 500, d)
        loop(d)

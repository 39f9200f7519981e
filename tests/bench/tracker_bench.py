"""How long a Python Tracker's enter and exit take against a running mttd ($MTT_SOCKET):
the whole of what `with mtt.Tracker(path): pass` costs, report synced. The seed's take 11 s.
Usage: PYTHONPATH=client/python MTT_SOCKET=... python3 tests/bench/tracker_bench.py [N]"""
import os
import statistics
import sys
import tempfile
import time

import mtt

n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
path = os.path.join(tempfile.mkdtemp(), "bench.csv")
times = []
for _ in range(n):
    start = time.perf_counter()
    with mtt.Tracker(path):
        pass
    times.append(time.perf_counter() - start)
times.sort()
print("Tracker enter+exit, {} times: median {:.2f} ms, p99 {:.2f} ms".format(
    n, statistics.median(times) * 1e3, times[int(n * 0.99) - 1] * 1e3))

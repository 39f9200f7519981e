#!/usr/bin/env python3
"""check-h200.sh's judge: reads the two reports of a run of cuda_alloc.py (mttctl run
--scope gpu and --scope gpu-device), what cuda_alloc.py said (its last JSON line on stderr),
what Sample said of GPU 0 just before each run and the sessions from mttctl list --json,
and prints a PASS or FAIL line per check and a block of figures to paste into a README.
Python's standard library only.

  gpu_report.py check DIR     the files check-h200.sh leaves in DIR (see FILES); writes
                              DIR/summary.md too. Exit 0: every check passed; 1: one failed;
                              2: nothing to judge (a file missing or unreadable).
  gpu_report.py self-test     the parsing and the checks on synthetic reports.

The expected values come from cuda_alloc.py's own cuMemGetInfo numbers: at the peak the
device had total - free_at_peak bytes in use, and before the run (Sample) used_before; the
difference is what the run added: its CUDA context (created after Open, so above the
report's baseline) and its 5 GiB. The same with free_after_first gives the 1 s plateau
(context + 1 GiB). Other processes that allocate on GPU 0 during a run spoil these figures:
Sample's value before each run is printed so that they show.
"""
import json
import os
import statistics
import sys

GIB = float(1 << 30)
TOLERANCE = 0.02  # peaks and plateaus: within 2 % of the expected value
TIME_SLACK = 0.020  # the peak's time: inside the 4 GiB hold, give or take 20 ms
PLATEAU_MARGIN = 0.1  # the plateau's value is read inside its 1 s, 100 ms from either end

FILES = {
    "gpu_csv": "gpu.csv",  # mttctl run --scope gpu -o
    "gpu_alloc": "gpu.stderr",  # that run's stderr (cuda_alloc.py's JSON line in it)
    "gpu_before": "gpu-before.json",  # mttctl sample --json just before it
    "dev_csv": "dev.csv",  # mttctl run --scope gpu-device --gpu 0 -o
    "dev_alloc": "dev.stderr",
    "dev_before": "dev-before.json",
    "list": "list.json",  # mttctl list --json after both
    "bench": "bench.txt",  # mtt-bench --gpu-only (optional)
    "driver": "driver.txt",  # nvidia-smi's driver version and GPU name (optional)
}
LABELS = {"gpu": "mtt-gpu-check-gpu", "dev": "mtt-gpu-check-gpu-device"}


class Unreadable(Exception):
    pass


def parse_report(text):
    """A report's rows [(delta, value)] and its ending: "completed" (0,0), "failed" (0,0
    then -1,-1) or "none" (a crash: no sentinel). Data rows always have a decimal point, so
    the sentinels are the exact lines 0,0 and -1,-1 at the end."""
    lines = [line.strip() for line in text.splitlines()]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "delta,ram":
        raise Unreadable("no delta,ram header")
    lines = lines[1:]
    ending = "none"
    if len(lines) >= 2 and lines[-2:] == ["0,0", "-1,-1"]:
        ending, lines = "failed", lines[:-2]
    elif lines and lines[-1] == "0,0":
        ending, lines = "completed", lines[:-1]
    rows = []
    for n, line in enumerate(lines, 2):
        try:
            d, v = line.split(",")
            rows.append((float(d), float(v)))
        except ValueError:
            raise Unreadable(f"line {n}: {line!r} is no row") from None
    return rows, ending


def in_order(rows):
    return all(b[0] > a[0] for a, b in zip(rows, rows[1:]))


def peak(rows):
    """The first row with the highest value."""
    best = None
    for r in rows:
        if best is None or r[1] > best[1]:
            best = r
    return best


def value_at(rows, t):
    """The report as a step function: the value of the last row at or before t (rows that
    repeat their neighbours are not written, so a value holds until the next row)."""
    v = None
    for d, x in rows:
        if d > t:
            break
        v = x
    return v


def find_alloc(text):
    """cuda_alloc.py's JSON line, the last one that parses."""
    found = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and '"cuda_alloc"' in line:
            try:
                found = json.loads(line)
            except ValueError:
                pass
    if found is None:
        raise Unreadable("no JSON line of cuda_alloc.py")
    return found


def gpu0_used(sample):
    for g in sample.get("gpus") or []:
        if g.get("index") == 0 and "used_bytes" in g:
            return g["used_bytes"], g.get("total_bytes"), g.get("name", "")
    raise Unreadable("Sample has no GPU 0: " + str(sample.get("gpu_error", "no gpus")))


def session_of(listing, label):
    found = [s for s in listing.get("sessions", []) if s.get("label") == label]
    return found[-1] if found else None


class Run:
    """One scope's run: its report, cuda_alloc.py's numbers, the expected values and the
    time mapping (seconds since Open <-> cuda_alloc.py's seconds since its start)."""

    def __init__(self, name, csv_text, alloc_text, before, session):
        self.name = name
        self.rows, self.ending = parse_report(csv_text)
        self.alloc = find_alloc(alloc_text)
        self.used_before, self.nvml_total, self.gpu_name = gpu0_used(before)
        mem = self.alloc.get("mem", {})
        if "free_at_peak" not in mem:
            raise Unreadable(f"{name}: cuda_alloc.py did not reach its peak: {self.alloc.get('error', '?')}")
        self.total = mem["total"]
        self.context = (self.total - mem["free_after_context"] - self.used_before) / GIB
        self.expected_peak = (self.total - mem["free_at_peak"] - self.used_before) / GIB
        self.expected_plateau = (self.total - mem["free_after_first"] - self.used_before) / GIB
        self.steps = self.alloc["steps"]
        # Open as seconds on cuda_alloc.py's clock: the session's wall-clock start, moved onto
        # the monotonic clock by the pair cuda_alloc.py read at its start. Without the session
        # Open is taken as the start of cuda_alloc.py (a few tens of ms late): good enough to
        # pick the plateau, not to time the peak.
        self.exact_time = False
        self.open_offset = 0.0
        if session and session.get("started"):
            wall_to_mono = self.alloc["start_wall"] - self.alloc["start_mono"]
            open_mono = session["started"] / 1e6 - wall_to_mono
            self.open_offset = self.alloc["start_mono"] - open_mono
            self.exact_time = True
        self.session = session

    def to_report(self, t):
        """cuda_alloc.py's time t (since its start) as the report's delta."""
        return t + self.open_offset

    def measured_plateau(self):
        a = self.to_report(self.steps["plateau_begin"]) + PLATEAU_MARGIN
        b = self.to_report(self.steps["alloc_second_begin"]) - PLATEAU_MARGIN
        values = [value_at(self.rows, a + (b - a) * k / 8) for k in range(9)]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None


def within(measured, expected, tol=TOLERANCE):
    return measured is not None and expected > 0 and abs(measured - expected) <= tol * expected


def pct(measured, expected):
    return 100.0 * (measured - expected) / expected if measured is not None and expected else float("nan")


def judge(run):
    """[(check name, passed, detail)] and the figures of one run."""
    out = []
    rows = run.rows
    out.append((f"{run.name}: report well formed, completed (0,0)",
                bool(rows) and in_order(rows) and run.ending == "completed",
                f"{len(rows)} rows, ending {run.ending}"))
    p = peak(rows) if rows else None
    measured = p[1] if p else None
    out.append((f"{run.name}: peak within {TOLERANCE * 100:.0f} % of context + 5 GiB",
                within(measured, run.expected_peak),
                f"expected {run.expected_peak:.4f} GiB (context {run.context:.4f} + "
                f"{(run.expected_peak - run.context):.4f}), measured "
                f"{'none' if measured is None else f'{measured:.4f}'} GiB "
                f"({pct(measured, run.expected_peak):+.2f} %)"))
    hold_a = run.to_report(run.steps["alloc_second_end"]) - TIME_SLACK
    hold_b = run.to_report(run.steps["hold_end"]) + TIME_SLACK
    if p and run.exact_time:
        out.append((f"{run.name}: peak inside the 50 ms hold, +-{TIME_SLACK * 1000:.0f} ms",
                    hold_a <= p[0] <= hold_b,
                    f"peak at {p[0]:.4f} s, hold {hold_a + TIME_SLACK:.4f} to "
                    f"{hold_b - TIME_SLACK:.4f} s since Open; "
                    f"{(p[0] - hold_a - TIME_SLACK) * 1000:+.1f} ms after the 4 GiB came"))
    else:
        out.append((f"{run.name}: peak inside the 50 ms hold, +-{TIME_SLACK * 1000:.0f} ms", False,
                    "no session start in mttctl list: cannot place the peak in time"))
    plateau = run.measured_plateau()
    out.append((f"{run.name}: the 1 s plateau at context + 1 GiB (within {TOLERANCE * 100:.0f} %)",
                within(plateau, run.expected_plateau),
                f"expected {run.expected_plateau:.4f} GiB, measured "
                f"{'none' if plateau is None else f'{plateau:.4f}'} GiB "
                f"({pct(plateau, run.expected_plateau):+.2f} %)"))
    if p:
        before = [r for r in rows if r[0] < p[0] and within(r[1], run.expected_plateau)]
        after = [r for r in rows if r[0] > p[0] and within(r[1], run.expected_plateau)]
        out.append((f"{run.name}: the peak lies between rows of the two plateaus",
                    bool(before) and bool(after),
                    f"{len(before)} plateau rows before it, {len(after)} after"))
    figures = {"expected": run.expected_peak, "measured": measured,
               "time": p[0] if p else None, "context": run.context,
               "plateau_expected": run.expected_plateau, "plateau": plateau,
               "seen_after_ms": (p[0] - hold_a - TIME_SLACK) * 1000 if p and run.exact_time else None,
               "rows": len(rows), "used_before": run.used_before / GIB}
    return out, figures


def read(path, optional=False):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError as e:
        if optional:
            return ""
        raise Unreadable(f"{path}: {e.strerror}") from None


def check(directory):
    f = {k: os.path.join(directory, v) for k, v in FILES.items()}
    try:
        listing = json.loads(read(f["list"]) or "{}")
        runs = [Run("gpu", read(f["gpu_csv"]), read(f["gpu_alloc"]), json.loads(read(f["gpu_before"])),
                    session_of(listing, LABELS["gpu"])),
                Run("gpu-device", read(f["dev_csv"]), read(f["dev_alloc"]), json.loads(read(f["dev_before"])),
                    session_of(listing, LABELS["dev"]))]
    except (Unreadable, ValueError, KeyError) as e:
        print(f"CANNOT CHECK: {e}")
        return 2
    failed = 0
    figures = {}
    for run in runs:
        print(f"# {run.name}: GPU 0 ({run.gpu_name}) had {run.used_before / GIB:.4f} GiB in use before "
              f"the run (Sample: other processes and the driver); cuMemGetInfo's total "
              f"{run.total / GIB:.4f} GiB, NVML's {(run.nvml_total or 0) / GIB:.4f} GiB; CUDA's device 0: "
              f"{run.alloc.get('device', '?')} at {run.alloc.get('pci_bus_id', '?')}; "
              f"{len(run.rows)} rows")
        results, figures[run.name] = judge(run)
        for name, ok, detail in results:
            print(f"{'PASS' if ok else 'FAIL'}: {name}: {detail}")
            failed += not ok
    bench = [line for line in read(f["bench"], True).splitlines() if "GPU read" in line]
    read_cost = bench[0].split("|")[2].strip() if bench and bench[0].count("|") >= 3 else "not measured"
    driver = read(f["driver"], True).strip() or "unknown (no nvidia-smi)"
    g, d = figures["gpu"], figures["gpu-device"]

    def fmt(x, spec=".3f", unit=" GiB"):
        return "none" if x is None else format(x, spec) + unit

    lines = [
        f"Real-GPU check of mtt's GPU scopes ({runs[0].gpu_name}; driver {driver})",
        "",
        "| scope | expected peak | measured peak | error | peak seen after the 4 GiB came | 1 s plateau (expected) |",
        "|---|---|---|---|---|---|",
    ]
    for name, x in (("gpu", g), ("gpu-device", d)):
        lines.append(f"| {name} | {fmt(x['expected'])} | {fmt(x['measured'])} | "
                     f"{pct(x['measured'], x['expected']):+.2f} % | {fmt(x['seen_after_ms'], '.1f', ' ms')} | "
                     f"{fmt(x['plateau'])} ({fmt(x['plateau_expected'])}) |")
    lines += [
        "",
        f"CUDA context overhead (cuMemGetInfo): {g['context']:.3f} GiB; GPU 0 in use before the runs: "
        f"{g['used_before']:.3f} GiB; one GPU read (mtt-bench --gpu-only): {read_cost}.",
        f"Checks: {'all passed' if not failed else f'{failed} failed'}.",
    ]
    summary = "\n".join(lines) + "\n"
    with open(os.path.join(directory, "summary.md"), "w") as out:
        out.write(summary)
    print("\n----- summary (README) -----\n" + summary + "-----")
    return 1 if failed else 0


# --- self-test: synthetic runs through the same code ---------------------------------------

def synthetic(context=0.5, peak_scale=1.0, peak_shift=0.0, drop_peak=False, ending="0,0",
              header="delta,ram", used_before=2 << 30, total=143771 << 20):
    """A cuda_alloc.py JSON, a Sample and a report as a good run would make them, with the
    report's peak scaled, moved or dropped; Open 30 ms before cuda_alloc.py started."""
    ctx = int(context * GIB)
    free0 = total - used_before - ctx
    steps = {"init": 0.2, "context": 0.4, "alloc_first_begin": 0.40, "alloc_first_end": 0.41,
             "plateau_begin": 0.42, "alloc_second_begin": 1.42, "alloc_second_end": 1.43,
             "hold_begin": 1.432, "hold_end": 1.482, "free_second_end": 1.49, "plateau2_begin": 1.49,
             "free_first_begin": 2.49, "free_first_end": 2.50, "context_destroyed": 2.52}
    alloc = {"cuda_alloc": 1, "start_mono": 1000.0, "start_wall": 1.7e9, "steps": steps,
             "mem": {"total": total, "free_after_context": free0, "free_after_first": free0 - (1 << 30),
                     "free_at_peak": free0 - (5 << 30), "free_after_second_freed": free0 - (1 << 30),
                     "free_after_first_freed": free0}}
    before = {"gpus": [{"index": 0, "name": "NVIDIA H200", "used_bytes": used_before, "total_bytes": total}]}
    off = 0.030
    c, p1 = context, context + 1
    rows = [(0.0, 0.0), (off + 0.40, 0.0), (off + 0.41, c), (off + 0.42, p1), (off + 1.42, p1)]
    if not drop_peak:
        rows += [(off + 1.44 + peak_shift, (c + 5) * peak_scale), (off + 1.47 + peak_shift, (c + 5) * peak_scale)]
    rows += [(off + 1.50, p1), (off + 2.49, p1), (off + 2.51, c), (off + 2.53, 0.0), (off + 2.55, 0.0)]
    rows.sort()
    text = header + "\n" + "".join(f"{d:.6f},{v:.6f}\n" for d, v in rows) + ending
    session = {"label": "x", "started": int((1.7e9 - off) * 1e6)}
    return text, json.dumps(alloc), before, session


def self_test():
    cases = 0

    def expect(what, outcome, **kw):
        nonlocal cases
        text, alloc, before, session = synthetic(**kw)
        run = Run("gpu", text, "noise\n" + alloc + "\n", before, session)
        results = {name.split(": ", 1)[1]: ok for name, ok, _ in judge(run)[0]}
        for key, want in outcome.items():
            got = [ok for name, ok in results.items() if name.startswith(key)]
            assert got == [want], f"{what}: {key}: {got} (all: {results})"
        cases += 1

    good = {"report": True, "peak within": True, "peak inside": True, "the 1 s plateau": True,
            "the peak lies": True}
    expect("a good run", good)
    expect("a bigger context", good, context=0.9)
    expect("a peak 1.5 % low", good, peak_scale=0.985)
    expect("a peak 3 % low", dict(good, **{"peak within": False}), peak_scale=0.97)
    expect("a peak 3 % high", dict(good, **{"peak within": False}), peak_scale=1.03)
    expect("a peak 3 ms after the hold (inside the slack)", good, peak_shift=0.045)
    expect("a peak 100 ms late", dict(good, **{"peak inside": False}), peak_shift=0.1)
    expect("a peak 35 ms early", dict(good, **{"peak inside": False}), peak_shift=-0.045)
    expect("the spike missed", dict(good, **{"peak within": False, "peak inside": False,
                                              "the peak lies": False}), drop_peak=True)
    expect("a failed run's ending", dict(good, report=False), ending="0,0\n-1,-1")
    expect("a crash: no ending", dict(good, report=False), ending="")
    # Parsing by itself.
    rows, ending = parse_report("delta,ram\n0.000000,0.000000\n0.5,1.25\n0,0\n-1,-1\n")
    assert rows == [(0.0, 0.0), (0.5, 1.25)] and ending == "failed", (rows, ending)
    rows, ending = parse_report("delta,ram\n0.000000,0.000000\n")
    assert rows == [(0.0, 0.0)] and ending == "none"
    assert value_at([(0.0, 1.0), (1.0, 2.0)], 0.99) == 1.0 and value_at([(0.0, 1.0), (1.0, 2.0)], 1.0) == 2.0
    assert peak([(0.0, 1.0), (1.0, 3.0), (2.0, 3.0)]) == (1.0, 3.0)
    for bad in ("ram,delta\n0.1,0.2\n", "delta,ram\n0.1;0.2\n", ""):
        try:
            parse_report(bad)
            raise AssertionError(f"parsed {bad!r}")
        except Unreadable:
            pass
    try:
        find_alloc("no json here\n")
        raise AssertionError("found a JSON line")
    except Unreadable:
        pass
    cases += 1
    # The whole check on files, as check-h200.sh leaves them: passes, then fails.
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        def write(name, text):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        for bad_peak in (1.0, 0.9):
            listing = {"sessions": []}
            for key in ("gpu", "dev"):
                text, alloc, before, session = synthetic(peak_scale=bad_peak)
                session["label"] = LABELS[key]
                listing["sessions"].append(session)
                write(FILES[f"{key}_csv"], text)
                write(FILES[f"{key}_alloc"], alloc + "\n")
                write(FILES[f"{key}_before"], json.dumps(before))
            write(FILES["list"], json.dumps(listing))
            write(FILES["bench"], "| GPU read (NVML, 1 device) | memory 11.0 us, processes 42.0 us | | |\n")
            saved = sys.stdout
            sys.stdout = open(os.devnull, "w")
            try:
                rc = check(d)
            finally:
                sys.stdout.close()
                sys.stdout = saved
            assert rc == (0 if bad_peak == 1.0 else 1), (bad_peak, rc)
            summary = read(os.path.join(d, "summary.md"))
            assert "memory 11.0 us, processes 42.0 us" in summary and "| gpu-device |" in summary, summary
        os.remove(os.path.join(d, FILES["dev_csv"]))
        saved = sys.stdout
        sys.stdout = open(os.devnull, "w")
        try:
            assert check(d) == 2
        finally:
            sys.stdout.close()
            sys.stdout = saved
    cases += 1
    print(f"gpu_report.py self-test: {cases} cases passed")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "self-test":
        return self_test()
    if len(argv) == 3 and argv[1] == "check":
        return check(argv[2])
    sys.stderr.write("usage: gpu_report.py check DIR | gpu_report.py self-test\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

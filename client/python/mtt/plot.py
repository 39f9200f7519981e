"""plot_reports: what `mttctl plot` draws, with matplotlib. One line per report in its own
colour, the legend named after the files (and how each run ended), each crash's last point
marked with an "x", a log time axis by default, ms/s/min/h time labels and memory in human
units. The reports' sentinel rows are never plotted."""
import math
import os

from .reports import COMPLETED, CRASHED_GRACEFULLY, CRASHED_UNGRACEFULLY, read_report

COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]
_NOTES = {COMPLETED: "", CRASHED_GRACEFULLY: " (crashed gracefully)",
          CRASHED_UNGRACEFULLY: " (crashed ungracefully)"}


def time_label(seconds):
    """"100us", "10ms", "1s", "10min", "2h", "1d"."""
    if seconds == 0:
        return "0"
    for unit, name in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"), (1e-3, "ms")):
        if seconds >= unit * 0.999:
            return "{:g}{}".format(seconds / unit, name)
    return "{:g}us".format(seconds / 1e-6)


def _memory_unit(biggest_gib):
    if biggest_gib >= 1:
        return 1.0, "GiB"
    if biggest_gib >= 1 / 1024:
        return 1 / 1024, "MiB"
    return 1 / (1024 * 1024), "KiB"


def plot_reports(paths, use_log_xscale=True, use_log_yscale=False,
                 plot_single_report_lines=True):
    """Plots one report or several and returns the matplotlib Figure (save it with
    fig.savefig). The seed's keyword arguments are accepted; memory is on a linear axis by
    default, since a report's memory is relative to its baseline and may be negative."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    reports = [(os.path.splitext(os.path.basename(p))[0],) + read_report(p) for p in paths]
    # pyplot's current figure, as the seed drew it: plt.savefig and plt.show work after.
    fig, axis = plt.subplots(figsize=(10, 6), dpi=100)
    positive = [t for _, times, _, _ in reports for t in times if t > 0]
    left = 10 ** math.floor(math.log10(min(positive))) if positive else 1e-3
    for i, (name, times, rams, how) in enumerate(reports):
        colour = COLOURS[i % len(COLOURS)]
        xs = [max(t, left) for t in times] if use_log_xscale else times
        if plot_single_report_lines:
            crashed = how != COMPLETED
            axis.plot(xs, rams, color=colour, linewidth=1.5, label=name + _NOTES[how],
                      marker="x" if crashed else "o" if len(xs) == 1 else None,
                      markevery=[len(xs) - 1], markersize=9 if crashed else 4,
                      markeredgewidth=2.5 if crashed else 1)
    if use_log_xscale:
        axis.set_xscale("log")
        axis.set_xlim(left=left)
        axis.set_xlabel("time (log scale)")
    else:
        axis.set_xlim(left=0)
        axis.set_xlabel("time")
    if use_log_yscale:
        axis.set_yscale("log")
    biggest = max((abs(r) for _, _, rams, _ in reports for r in rams), default=0)
    unit, unit_name = _memory_unit(biggest)
    axis.xaxis.set_major_formatter(FuncFormatter(lambda v, _: time_label(v)))
    axis.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: "{:g} {}".format(round(v / unit, 6), unit_name)))
    axis.set_ylabel("memory used")
    axis.grid(True, color="#e0e0e0")
    if plot_single_report_lines:
        axis.legend(loc="upper left")
    return fig

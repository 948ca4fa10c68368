"""The training loop's cost of reporting one scalar point. Prints JSON (µs per call).

    .venv/bin/python bench/bench_report_scalar.py [--calls 1000000] [--runs 3]

Cases:

- ``report_scalar``: ``task.get_logger().report_scalar(title, series, value, i)``, what a
  training script pays (the logger hands out the reporter's own ``add_scalar``);
- ``wrapped``: the same behind one more Python method, as the logger was before: the cost
  of the frame it saves;
- ``empty_loop``: the ``for`` loop alone, for reference (included in every figure);
- ``floor``: a plain Python function appending a tuple to a list, the cheapest reporting
  API Python allows. The machine's speed varies from run to run (a shared host), so the
  ratios ``report_scalar / floor`` are the figures to compare across runs.

Two modes. ``call``: the background sender sleeps during the timed loop (it sends between
runs), so the figure is the cost of the call itself. ``sustained``: the default settings,
the sender packing and "sending" (to a client that accepts everything in memory) while the
loop runs; on CPython the two share the GIL, so this figure adds the sender's own work
per point (packing, a fraction of a microsecond) to the call.

``--monitor``: the run's resource monitor (system metrics, on by default in ``Task.init``)
samples the machine during every timed loop, as in a real run, reporting into the same
reporter every ``--monitor-report-sec`` seconds (default 1: thirty times its default).

Each figure is the median of ``--runs`` runs of ``--calls`` calls. Target: <= 1 µs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tunelab.sdk import resource_monitor
from tunelab.sdk.logger import Logger
from tunelab.sdk.reporter import Reporter


class AcceptAll:
    """A client that takes every write at once, so the sender keeps working during the run."""

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        return lambda *args, **kwargs: {"stored": 0, "duplicate": False}

    def post_scalars(self, task_id: str, batch: Mapping[str, Any]) -> dict[str, Any]:
        return {"stored": len(batch["series"]), "duplicate": False}


class Wrapped:
    def __init__(self, reporter: Reporter) -> None:
        self._add_scalar = reporter.add_scalar

    def report_scalar(self, title: str, series: str, value: float, iteration: int) -> None:
        self._add_scalar(title, series, value, iteration)


def _timed(calls: int, report: Callable[[str, str, float, int], None] | None) -> float:
    start = time.perf_counter()
    if report is None:
        for _ in range(calls):
            pass
    else:
        for i in range(calls):
            report("loss", "train", 0.5, i)
    return (time.perf_counter() - start) / calls * 1e6


def _floor() -> Callable[[str, str, float, int], None]:
    points: list[tuple[float, int]] = []

    def report(metric: str, variant: str, value: float, iteration: int) -> None:
        points.append((value, iteration))
        if len(points) > 100_000:
            points.clear()

    return report


class MonitoredRun:
    """What ``start_monitor`` needs of a run: its reporter and its close hooks."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.before_close: list[Callable[[], None]] = []


def _measure(
    calls: int, repeat: int, settings: dict[str, Any], monitor_report_sec: float | None
) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        reporter = Reporter(AcceptAll(), "bench", spool_path=Path(tmp) / "spool.jsonl", **settings)
        logger = Logger(reporter.add_scalar, reporter.add_console, lambda: sys.stdout, print)
        run = MonitoredRun(reporter)
        if monitor_report_sec is not None:
            monitor = resource_monitor.MonitorSettings(
                report_frequency_sec=monitor_report_sec, wait_for_first_iteration_to_start_sec=0
            )
            resource_monitor.start_monitor(run, monitor)
        cases: dict[str, Callable[[str, str, float, int], None] | None] = {
            "empty_loop": None,
            "floor": _floor(),
            "report_scalar": logger.report_scalar,
            "wrapped": Wrapped(reporter).report_scalar,
        }
        runs: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeat):
            for name, report in cases.items():
                runs[name].append(_timed(calls, report))
                reporter.flush()  # outside the timed loop
        for stop in run.before_close:
            stop()
        reporter.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--monitor", action="store_true", help="system metrics sampled meanwhile")
    parser.add_argument("--monitor-report-sec", type=float, default=1.0)
    args = parser.parse_args()
    monitor_report_sec = args.monitor_report_sec if args.monitor else None
    modes = {
        "call": {"flush_interval": 3600.0, "max_batch_points": 10**12},
        "sustained": {"flush_interval": 0.5, "max_batch_points": 200_000},
    }
    medians: dict[str, dict[str, float]] = {}
    all_runs: dict[str, dict[str, list[float]]] = {}
    for mode, settings in modes.items():
        runs = _measure(args.calls, args.runs, settings, monitor_report_sec)
        medians[mode] = {name: round(statistics.median(v), 4) for name, v in runs.items()}
        all_runs[mode] = {name: [round(x, 4) for x in v] for name, v in runs.items()}
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "calls": args.calls,
        "runs": args.runs,
        "monitor_report_sec": monitor_report_sec,
        "us_per_call_median": medians,
        "us_per_call_runs": all_runs,
        "ratio_to_floor_median": {
            mode: {
                name: round(figures[name] / figures["floor"], 2)
                for name in ("report_scalar", "wrapped")
            }
            for mode, figures in medians.items()
        },
        "target_us": 1.0,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

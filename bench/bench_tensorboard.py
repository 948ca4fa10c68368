"""What TensorBoard capture adds to each ``SummaryWriter.add_scalar``. Prints JSON (µs per call).

    .venv/bin/python bench/bench_tensorboard.py [--calls 20000] [--runs 3]

For PyTorch's and tensorboardX's ``SummaryWriter`` (each writing its event file to a temporary
directory), the same loop ``writer.add_scalar("loss/train", value, step)`` is timed in three
cases, interleaved run by run (each case first in turn):

- ``off``: the writer as it ships (``FileWriter.add_event`` unpatched): no Tunelab at all, or
  ``auto_connect_frameworks={"tensorboard": False}`` from the start;
- ``idle``: patched, no run recording (after the task closed): the wrapper's check alone;
- ``on``: patched and recording into a real ``Reporter`` (its sender idle during the loop,
  taking everything in memory, as in ``bench_report_scalar.py``): the event's value read,
  its name looked up, the point handed to ``report_scalar``;
- ``record_alone``: that work alone, on a prepared event, without the writer.

Figures are CPU time of the process (the writers' own threads included), so that the shared
host's other work does not count.

The figure to read is ``on - off``: the capture's cost per call, beside the writer's own.
Each figure is the median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tunelab.integrations.tensorboard import writers
from tunelab.integrations.tensorboard.events import EventRecorder
from tunelab.sdk.logger import Logger
from tunelab.sdk.reporter import Reporter

MODULES = {"torch": "torch.utils.tensorboard.writer", "tensorboardX": "tensorboardX.writer"}


class AcceptAll:
    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        return lambda *args, **kwargs: {"stored": 0, "duplicate": False}

    def post_scalars(self, task_id: str, batch: Mapping[str, Any]) -> dict[str, Any]:
        return {"stored": len(batch["series"]), "duplicate": False}


def _timed(writer: Any, calls: int, first_step: int) -> float:
    # CPU time of this process (the writer's own thread included): the shared host's other
    # work does not count, as it would in wall-clock time.
    start = time.process_time()
    for step in range(first_step, first_step + calls):
        writer.add_scalar("loss/train", 0.5, step)
    return (time.process_time() - start) / calls * 1e6


def _record_alone(module: Any, recorder: EventRecorder, calls: int) -> float:
    """The capture's own work for one scalar event, without the writer around it."""
    event = module.event_pb2.Event(summary=module.scalar("loss/train", 0.5))
    event.step = 7
    start = time.process_time()
    for _ in range(calls):
        recorder.record(event, "runs/bench")
    return (time.process_time() - start) / calls * 1e6


def _measure(name: str, calls: int, repeat: int, tmp: Path) -> dict[str, list[float]]:
    module = importlib.import_module(MODULES[name])
    file_writer = module.FileWriter
    shipped = file_writer.add_event
    writers.patch_writers(module)
    patched = file_writer.add_event
    reporter = Reporter(
        AcceptAll(), "bench", spool_path=tmp / f"{name}.jsonl",
        flush_interval=3600.0, max_batch_points=10**12,
    )  # fmt: skip
    logger = Logger(reporter.add_scalar, reporter.add_console, lambda: sys.stdout, print)
    recorder = EventRecorder(logger, None)
    writer = module.SummaryWriter(str(tmp / name))
    runs: dict[str, list[float]] = {"off": [], "idle": [], "on": [], "record_alone": []}
    step = 0
    try:
        for index in range(repeat):
            order = ["off", "idle", "on"]
            for case in order[index % 3 :] + order[: index % 3]:  # each case first in turn
                file_writer.add_event = shipped if case == "off" else patched
                writers._run.recorder = recorder if case == "on" else None
                runs[case].append(_timed(writer, calls, step))
                step += calls
                reporter.flush()  # outside the timed loop
            runs["record_alone"].append(_record_alone(module, recorder, calls))
            reporter.flush()
    finally:
        writers._run.recorder = None
        file_writer.add_event = patched
        writer.close()
        reporter.close()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writer", choices=[*MODULES, "both"], default="both")
    args = parser.parse_args()
    names = list(MODULES) if args.writer == "both" else [args.writer]
    result: dict[str, Any] = {"python": sys.version.split()[0], "calls": args.calls}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            runs = _measure(name, args.calls, args.runs, Path(tmp))
            medians = {case: round(statistics.median(v), 2) for case, v in runs.items()}
            result[name] = {
                "us_per_add_scalar_median": medians,
                "capture_us_per_call": round(medians["on"] - medians["off"], 2),
                "capture_share_of_call": round(medians["on"] / medians["off"] - 1, 3),
                "us_per_add_scalar_runs": {c: [round(x, 2) for x in v] for c, v in runs.items()},
            }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""How fast ``tunelab import`` moves one run's scalar history into a server. Prints JSON.

    .venv/bin/python bench/bench_import.py [--points 1000000] [--mlflow-points 200000]

Against a real ``tunelab server`` process on SQLite (a temporary data dir), one run each:

- ``writer``: the importers' shared path alone (``import_runs`` + ``RunWriter``): 10 series
  of ``--points``/10 points handed over as arrays, packed into frames, posted, stored;
- ``tensorboard``: an event file of ``--points`` scalar events (10 tags), written by
  TensorBoard's own ``EventFileWriter``, read back and imported (the reader is most of it);
- ``mlflow``: a file store run of ``--mlflow-points`` points (10 metrics, ``log_batch``),
  imported through MLflow's client (``get_metric_history`` builds a Python object per point).

Each figure: seconds for the import (writing the source is not counted) and points/s.
Target: 1M points of one run in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import ServerProcess

from tunelab.importers.runs import RunEnd, RunPlan, import_runs
from tunelab.importers.tensorboard import import_logdir
from tunelab.importers.writer import RunWriter
from tunelab.sdk.transport import ApiClient

SERIES = 10


def bench_writer(client: ApiClient, points: int) -> float:
    per = points // SERIES
    steps = np.arange(per, dtype=np.int64)
    values = np.random.default_rng(0).random(per)
    stamps = time.time() + steps / 1000.0

    def write(_run: int, writer: RunWriter) -> RunEnd:
        for number in range(SERIES):
            writer.scalars("bench", f"s{number}", steps, values, stamps)
        return RunEnd()

    def plan(run: int) -> RunPlan:
        body = {"name": "writer", "project": "bench-import"}
        return RunPlan(f"bench:{time.time_ns()}:{run}", "writer", body)

    start = time.perf_counter()
    import_runs(client, [0], plan=plan, write=write)
    return time.perf_counter() - start


def bench_tensorboard(client: ApiClient, points: int, scratch: Path) -> float:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder = scratch / "tb" / "run"
    writer = EventFileWriter(str(folder))
    now = time.time()
    for step in range(points // SERIES):
        values = [
            summary_pb2.Summary.Value(tag=f"bench/s{n}", simple_value=step * 0.5 + n)
            for n in range(SERIES)
        ]
        event = event_pb2.Event(wall_time=now + step, step=step)
        event.summary.value.extend(values)  # ten points per event, as one writer's flush
        writer.add_event(event)
    writer.close()
    start = time.perf_counter()
    import_logdir(client, scratch / "tb", "bench-import")
    return time.perf_counter() - start


def bench_mlflow(client: ApiClient, points: int, scratch: Path) -> float:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from tunelab.importers.mlflow import import_tracking

    uri = (scratch / "mlruns").as_uri()
    source = MlflowClient(tracking_uri=uri)
    experiment = source.create_experiment("bench")
    run = source.create_run(experiment).info.run_id
    stamp = int(time.time() * 1000)
    batch: list[Any] = []
    for step in range(points // SERIES):
        batch += [Metric(f"m{n}", step * 0.5 + n, stamp + step, step) for n in range(SERIES)]
        if len(batch) >= 1000:
            source.log_batch(run, metrics=batch)
            batch = []
    if batch:
        source.log_batch(run, metrics=batch)
    source.set_terminated(run)
    start = time.perf_counter()
    import_tracking(client, uri, ["bench"])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--mlflow-points", type=int, default=200_000)
    args = parser.parse_args()
    figures: dict[str, Any] = {"load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        scratch = Path(tmp)
        server = ServerProcess(scratch / "server")
        server.start()
        try:
            with ApiClient(server.url) as client:
                for name, points, run in (
                    ("writer", args.points, lambda: bench_writer(client, args.points)),
                    (
                        "tensorboard",
                        args.points,
                        lambda: bench_tensorboard(client, args.points, scratch),
                    ),
                    (
                        "mlflow",
                        args.mlflow_points,
                        lambda: bench_mlflow(client, args.mlflow_points, scratch),
                    ),
                ):
                    seconds = run()
                    figures[name] = {
                        "points": points,
                        "seconds": round(seconds, 2),
                        "points_per_s": round(points / seconds),
                    }
        finally:
            server.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

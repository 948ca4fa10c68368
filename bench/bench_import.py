"""How fast ``tunelab import`` moves one run's scalar history into a server. Prints JSON.

    .venv/bin/python bench/bench_import.py [--points 1000000] [--mlflow-points 1000000]
        [--cases writer,tensorboard,mlflow-file,mlflow-sqlite] [--client-reads]

Against a real ``tunelab server`` process on SQLite (a temporary data dir), one run each:

- ``writer``: the importers' shared path alone (``import_runs`` + ``RunWriter``): 10 series
  of ``--points``/10 points handed over as arrays, packed into frames, posted, stored;
- ``tensorboard``: an event file of ``--points`` scalar events (10 tags), written by
  TensorBoard's own ``EventFileWriter``, read back and imported (the reader is most of it);
- ``mlflow-file``, ``mlflow-sqlite``: a file store / a SQLite store holding one run of
  ``--mlflow-points`` points (10 metrics), written by MLflow's client with ``log_batch`` (once,
  kept under /tmp: see ``mlflow_store``), imported: histories read from the metric files or
  the ``metrics`` table, everything else through MLflow's client. ``--client-reads`` also
  times reading the run's histories alone, directly and through MLflow's client
  (``get_metric_history``, a Python object per point: the import's way before).

Each figure: seconds for the import (writing the source is not counted) and points/s.
Target: 1M points of one run in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def mlflow_store(kind: str, points: int) -> str:
    """A store of one finished run, ``points`` points over 10 metrics, written by MLflow's
    client with ``log_batch`` of 1,000 metrics a request (as a training loop flushing would).
    Kept under /tmp: writing a million points takes minutes, importing them is measured."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    folder = Path(tempfile.gettempdir()) / f"tunelab-bench-mlflow-{kind}-{points}"
    uri = (folder / "mlruns").as_uri() if kind == "file" else f"sqlite:///{folder}/mlflow.db"
    if (folder / "done").exists():
        return uri
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = MlflowClient(tracking_uri=uri)
    run = source.create_run(source.create_experiment("bench")).info.run_id
    stamp = int(time.time() * 1000)
    values = np.random.default_rng(0).random(points).tolist()  # 17 digits of text each
    batch: list[Any] = []
    for step in range(points // SERIES):
        batch += [
            Metric(f"m{n}", values[step * SERIES + n], stamp + step, step) for n in range(SERIES)
        ]
        if len(batch) >= 1000:
            source.log_batch(run, metrics=batch)
            batch = []
    if batch:
        source.log_batch(run, metrics=batch)
    source.set_terminated(run)
    (folder / "done").touch()
    return uri


def bench_mlflow(client: ApiClient, uri: str, points: int) -> float:
    from tunelab.importers.mlflow import import_tracking

    start = time.perf_counter()
    summary = import_tracking(client, uri, ["bench"])
    seconds = time.perf_counter() - start
    assert [stored for _, _, stored in summary.imported] == [points], summary
    return seconds


def bench_mlflow_read(uri: str) -> dict[str, float]:
    """Reading the run's histories alone: directly (the import's way) and through MLflow's
    client (``get_metric_history``, a Python object per point)."""
    from mlflow import MlflowClient

    from tunelab.importers.mlflow_history import client_histories, history_reader

    source = MlflowClient(tracking_uri=uri)
    (run,) = source.search_runs([source.get_experiment_by_name("bench").experiment_id])
    seconds = {}
    start = time.perf_counter()
    with history_reader(source, uri) as read:
        direct = read(run)
    seconds["direct"] = time.perf_counter() - start
    start = time.perf_counter()
    by_client = client_histories(source, run)
    seconds["client"] = time.perf_counter() - start
    for key, history in by_client.items():  # the same points either way
        for mine, theirs in zip(direct[key], history, strict=True):
            assert np.array_equal(mine, theirs, equal_nan=True), key
    return {name: round(value, 2) for name, value in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--mlflow-points", type=int, default=1_000_000)
    parser.add_argument(
        "--cases", default="writer,tensorboard,mlflow-file,mlflow-sqlite", help="comma-separated"
    )
    parser.add_argument(
        "--client-reads", action="store_true", help="also time MLflow's client reading the run"
    )
    args = parser.parse_args()
    cases = args.cases.split(",")
    stores = {
        case: mlflow_store(case.removeprefix("mlflow-"), args.mlflow_points)
        for case in cases
        if case.startswith("mlflow-")
    }
    figures: dict[str, Any] = {"load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        scratch = Path(tmp)
        server = ServerProcess(scratch / "server")
        server.start()
        try:
            with ApiClient(server.url) as client:
                for case in cases:
                    if case == "writer":
                        points, seconds = args.points, bench_writer(client, args.points)
                    elif case == "tensorboard":
                        points = args.points
                        seconds = bench_tensorboard(client, args.points, scratch)
                    else:
                        points = args.mlflow_points
                        seconds = bench_mlflow(client, stores[case], points)
                    figures[case] = {
                        "points": points,
                        "seconds": round(seconds, 2),
                        "points_per_s": round(points / seconds),
                    }
                    if case in stores and args.client_reads:
                        figures[case]["read_seconds"] = bench_mlflow_read(stores[case])
        finally:
            server.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Scalar ingest and read speed on SQLite, through the store and through a real server.
Prints JSON.

    .venv/bin/python bench/bench_scalars.py [--metrics 10] [--iterations 100000]
        [--batch-points 10000] [--runs 9]

Store ingest: 1M points (10 metrics x 100k iterations) in batches of about the size the SDK
sends, one transaction per batch. Reads: one 100k-point series, full and downsampled to 2000
points, as the median of several runs, through ``read_series`` and over HTTP.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import ServerProcess

from tunelab.domain.scalar_wire import pack_floats, pack_ints
from tunelab.store import migrations, schema
from tunelab.store.engine import create_engine, sqlite_url
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch, read_series


def make_task(engine: sa.Engine) -> str:
    task_id, project_id = uuid.uuid4().hex, uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(
            schema.projects.insert(),
            {"id": project_id, "name": f"bench-{project_id}", "created": 0.0, "last_update": 0.0},
        )
        conn.execute(
            schema.tasks.insert(),
            {
                "id": task_id,
                "name": "bench",
                "project_id": project_id,
                "type": "training",
                "status": "running",
                "created": 0.0,
                "last_update": 0.0,
                "execution": {},
                "runtime": {},
            },
        )
    return task_id


def batches(metrics: int, iterations: int, batch_points: int) -> Iterator[list[SeriesPoints]]:
    """Like the SDK: each batch carries the next few iterations of every metric."""
    per_batch = max(1, batch_points // metrics)
    rng = np.random.default_rng(0)
    for start in range(0, iterations, per_batch):
        its = np.arange(start, min(start + per_batch, iterations), dtype=np.int64)
        stamps = 1.7e9 + its * 0.01
        yield [
            SeriesPoints(f"metric{m}", "series", its, rng.random(len(its)), stamps)
            for m in range(metrics)
        ]


def bench_store_ingest(engine: sa.Engine, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    task_id = make_task(engine)
    work = list(batches(args.metrics, args.iterations, args.batch_points))
    started = time.perf_counter()
    for series in work:
        with engine.begin() as conn:
            ingest_batch(conn, task_id, ScalarBatch(series=series, batch_id=uuid.uuid4().hex))
    seconds = time.perf_counter() - started
    total = args.metrics * args.iterations
    return task_id, {
        "points": total,
        "batches": len(work),
        "points_per_batch": total // len(work),
        "seconds": round(seconds, 3),
        "points_per_s": round(total / seconds),
    }


def median_ms(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def bench_store_reads(engine: sa.Engine, task_id: str, runs: int) -> dict[str, float]:
    def read(max_points: int) -> None:
        with engine.begin() as conn:
            read_series(conn, [task_id], ["metric0"], ["series"], max_points)

    return {
        "full_ms": median_ms(lambda: read(0), runs),
        "downsampled_2000_ms": median_ms(lambda: read(2000), runs),
    }


def bench_http(url: str, task_id: str, fresh_task: str, args: argparse.Namespace) -> dict[str, Any]:
    with httpx.Client(base_url=f"{url}/api/v1", timeout=120) as client:
        path = f"/tasks/{task_id}/scalars"

        def read(max_points: int) -> None:
            params = {"metric": "metric0", "max_points": max_points}
            response = client.get(path, params=params)
            response.raise_for_status()
            assert response.json()["metrics"]["metric0"]["series"]["total"] == args.iterations

        reads = {
            "full_ms": median_ms(lambda: read(0), args.runs),
            "downsampled_2000_ms": median_ms(lambda: read(2000), args.runs),
        }
        # Ingest as the SDK does it: base64 arrays; encoding is counted, as the SDK pays it.
        started = time.perf_counter()
        for series in batches(args.metrics, args.iterations, args.batch_points):
            body = {"batch_id": uuid.uuid4().hex, "series": [_wire(s) for s in series]}
            client.post(f"/tasks/{fresh_task}/scalars", json=body).raise_for_status()
        seconds = time.perf_counter() - started
    total = args.metrics * args.iterations
    return {**reads, "ingest_points_per_s": round(total / seconds)}


def _wire(s: SeriesPoints) -> dict[str, Any]:
    return {
        "metric": s.metric,
        "variant": s.variant,
        "iterations": pack_ints(s.iterations.tolist()),
        "values": pack_floats(s.values.tolist()),
        "timestamps": pack_floats(s.timestamps.tolist()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--batch-points", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        data_dir = Path(tmp)
        engine = create_engine(sqlite_url(data_dir))
        migrations.upgrade(engine)
        task_id, ingest = bench_store_ingest(engine, args)
        store_reads = bench_store_reads(engine, task_id, args.runs)
        fresh_task = make_task(engine)
        engine.dispose()

        server = ServerProcess(data_dir)
        server.start()
        try:
            http = bench_http(server.url, task_id, fresh_task, args)
        finally:
            server.stop()

    print(
        json.dumps(
            {
                "database": "sqlite",
                "store_ingest": ingest,
                "store_read_100k": store_reads,
                "http": http,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

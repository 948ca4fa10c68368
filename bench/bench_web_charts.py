"""What the Scalars tab costs the server for a 1M-point series, through a real server on
SQLite. Prints JSON.

    .venv/bin/python bench/bench_web_charts.py [--points 1000000] [--batch-points 10000]
        [--runs 9] [--poll-points 100]

The series is stored as the SDK would send it (10k-point batches: 100 chunks). Measured as
the median of several runs: the chart's read at ``max_points=2000`` (what the page asks for)
against full resolution (``max_points=0``), and a live poll with the ``after`` cursor after
a batch of ``--poll-points`` new points (what a running experiment's page asks every 2 s),
and with nothing new. "server_ms" is the server's own time (its ``Server-Timing`` header:
the read and the JSON encoding), "total_ms" adds the transfer and the client's parsing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_scalars import make_task
from tests.services import ServerProcess

from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, encode_frame
from tunelab.store import migrations
from tunelab.store.engine import create_engine, sqlite_url
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch


def store_series(engine: sa.Engine, task_id: str, points: int, batch_points: int) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, points, batch_points):
        its = np.arange(start, min(start + batch_points, points), dtype=np.int64)
        values = np.exp(-its / points * 3) + rng.normal(0, 0.05, len(its))
        series = SeriesPoints("loss", "train", its, values, 1.7e9 + its * 0.01)
        with engine.begin() as conn:
            ingest_batch(conn, task_id, ScalarBatch(series=[series], batch_id=uuid.uuid4().hex))


def server_ms(response: httpx.Response) -> float:
    # "app;dur=12.3"
    return float(response.headers["server-timing"].split("dur=")[1])


def timed_get(client: httpx.Client, path: str, params: dict[str, Any]) -> dict[str, float]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    response.raise_for_status()
    body = response.json()
    total = (time.perf_counter() - started) * 1000
    assert "metrics" in body
    return {"server_ms": server_ms(response), "total_ms": total, "bytes": len(response.content)}


def median_of(samples: list[dict[str, float]]) -> dict[str, float]:
    return {
        key: round(statistics.median(s[key] for s in samples), 2 if key != "bytes" else None)
        for key in samples[0]
    }


def post_new_points(client: httpx.Client, task_id: str, start: int, count: int) -> None:
    its = np.arange(start, start + count, dtype=np.int64)
    frame = encode_frame(
        uuid.uuid4().hex,
        [
            {
                "metric": "loss",
                "variant": "train",
                "iterations": its.tobytes(),
                "values": np.full(count, 0.05).tobytes(),
                "timestamps": (1.7e9 + its * 0.01).tobytes(),
            }
        ],
    )
    client.post(
        f"/tasks/{task_id}/scalars/frame",
        content=frame,
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    ).raise_for_status()


def bench_http(url: str, task_id: str, args: argparse.Namespace) -> dict[str, Any]:
    path = f"/tasks/{task_id}/scalars"
    with httpx.Client(base_url=f"{url}/api/v1", timeout=300) as client:
        chart = median_of([timed_get(client, path, {"max_points": 2000}) for _ in range(args.runs)])
        full = median_of(
            [timed_get(client, path, {"max_points": 0}) for _ in range(max(3, args.runs // 3))]
        )
        cursor = client.get(path, params={"max_points": 2000}).json()["cursor"]
        next_iteration = args.points
        polls, idle = [], []
        for _ in range(args.runs):
            post_new_points(client, task_id, next_iteration, args.poll_points)
            next_iteration += args.poll_points
            params = {"max_points": 2000, "after": cursor}
            polls.append(timed_get(client, path, params))
            answer = client.get(path, params=params).json()
            assert len(answer["metrics"]["loss"]["train"]["x"]) == args.poll_points
            cursor = answer["cursor"]
            idle.append(timed_get(client, path, {"max_points": 2000, "after": cursor}))
        page = []
        for _ in range(args.runs):
            response = client.get(f"{url}/experiments/{task_id}/scalars")
            response.raise_for_status()
            page.append(server_ms(response))
    return {
        "chart_read_max_points_2000": chart,
        "full_resolution_read": full,
        f"live_poll_after_cursor_{args.poll_points}_new_points": median_of(polls),
        "live_poll_after_cursor_nothing_new": median_of(idle),
        "scalars_tab_html_server_ms": round(statistics.median(page), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch-points", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--poll-points", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        data_dir = Path(tmp)
        engine = create_engine(sqlite_url(data_dir))
        migrations.upgrade(engine)
        task_id = make_task(engine)
        store_series(engine, task_id, args.points, args.batch_points)
        engine.dispose()
        server = ServerProcess(data_dir)
        server.start()
        try:
            figures = bench_http(server.url, task_id, args)
        finally:
            server.stop()

    print(
        json.dumps(
            {
                "database": "sqlite",
                "series_points": args.points,
                "chunks": -(-args.points // args.batch_points),
                **figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

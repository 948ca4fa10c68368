"""How long the web app's experiments table, Projects page and Dashboard take with 100k tasks.

Fills a fresh SQLite database as ``bench_task_listing.py`` does (100k tasks in one project,
200 in another, each with a "loss"/"val" metric and an "Args/lr" hyperparameter), adds an
"accuracy"/"val" metric and an "Args/batch_size" hyperparameter to every task, starts a real
``tunelab server`` and requests each page several times. Prints JSON: the server's own time
from the ``Server-Timing: app;dur=`` header (median and p95), and the client's round trip.

    .venv/bin/python bench/bench_web_table.py
    .venv/bin/python bench/bench_web_table.py --postgres

The target: the first table page sorted by a metric column in 200 ms or less server time.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_task_listing import CHUNK, PROJECT, database, populate
from tests.services import ServerProcess

from tunelab.store import migrations
from tunelab.store.engine import create_engine
from tunelab.store.schema import projects, task_metrics, task_params, tasks

COLS = "metrics.loss/val.min,metrics.loss/val.last,metrics.accuracy/val.max,hyperparameters.Args/lr"


def add_inputs(engine: sa.Engine, seed: int = 11) -> None:
    """A second metric and a second hyperparameter on every task."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        ids = list(conn.execute(sa.select(tasks.c.id)).scalars())
        for first in range(0, len(ids), CHUNK):
            metric_rows, param_rows = [], []
            for task_id in ids[first : first + CHUNK]:
                accuracy = rng.random()
                metric_rows.append(
                    {
                        "task_id": task_id,
                        "metric": "accuracy",
                        "variant": "val",
                        "count": 100,
                        "last": accuracy,
                        "last_iter": 99,
                        "min": accuracy * rng.random(),
                        "min_iter": 3,
                        "max": min(1.0, accuracy + rng.random() / 10),
                        "max_iter": 90,
                        "last_time": time.time(),
                    }
                )
                param_rows.append(
                    {
                        "task_id": task_id,
                        "section": "Args",
                        "name": "batch_size",
                        "value": str(rng.choice([16, 32, 64, 128])),
                        "type": "int",
                        "description": "",
                    }
                )
            conn.execute(task_metrics.insert(), metric_rows)
            conn.execute(task_params.insert(), param_rows)


def timings(
    client: httpx.Client, url: str, repeats: int, headers: dict[str, str]
) -> dict[str, float]:
    """Server-Timing's app duration and the round trip, median and p95, in ms."""
    client.get(url, headers=headers).raise_for_status()  # warm caches and the pool
    server, trip = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        answer = client.get(url, headers=headers)
        trip.append((time.perf_counter() - began) * 1000)
        answer.raise_for_status()
        server.append(float(answer.headers["server-timing"].split("dur=")[1]))
    return {
        "server_median_ms": round(statistics.median(server), 1),
        "server_p95_ms": round(_p95(server), 1),
        "round_trip_median_ms": round(statistics.median(trip), 1),
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="run on PostgreSQL")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        data_dir = Path(tmp)
        with database(args.postgres, data_dir) as url:
            engine = create_engine(url)
            migrations.upgrade(engine)
            began = time.perf_counter()
            populate(engine, args.tasks)
            add_inputs(engine)
            with engine.connect() as conn:
                project_id = conn.execute(
                    sa.select(projects.c.id).where(projects.c.name == PROJECT)
                ).scalar_one()
            if args.postgres:
                # What autovacuum would have done by the time anyone lists 100k tasks.
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("VACUUM ANALYZE"))
            fill_s = round(time.perf_counter() - began, 1)
            engine.dispose()
            # The server analyzes the database as it starts (PRAGMA optimize / statistics).
            server = ServerProcess(data_dir / "server", url)
            server.start()
            table = f"/projects/{project_id}"
            pages = {
                "table, sorted by -metrics.loss/val.min, 4 extra columns": (
                    f"{table}?sort=-metrics.loss/val.min&cols={COLS}",
                    {},
                ),
                "same, as the htmx fragment": (
                    f"{table}?sort=-metrics.loss/val.min&cols={COLS}",
                    {"HX-Request": "true"},
                ),
                "table, sorted by hyperparameters.Args/lr, 4 extra columns": (
                    f"{table}?sort=hyperparameters.Args/lr&cols={COLS}",
                    {},
                ),
                "table, default sort (-last_update), no extra columns": (table, {}),
                "table, status=running filter, sorted by metrics.accuracy/val.max": (
                    f"{table}?status=running&sort=-metrics.accuracy/val.max&cols={COLS}",
                    {},
                ),
                "table, page 20 of the metric sort": (
                    f"{table}?sort=-metrics.loss/val.min&cols={COLS}&page=20",
                    {},
                ),
                "column picker (names on offer)": (f"/table/columns?project_id={project_id}", {}),
                "projects page": ("/projects", {}),
                "dashboard": ("/", {}),
            }
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    figures = {
                        label: timings(client, path, args.repeats, headers)
                        for label, (path, headers) in pages.items()
                    }
            finally:
                server.stop()
    report = {
        "dialect": "postgresql" if args.postgres else "sqlite",
        "tasks": args.tasks,
        "fill_seconds": fill_s,
        "repeats": args.repeats,
        "pages": figures,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

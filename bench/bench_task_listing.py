"""How long the first page of a big project's task list takes, by each kind of sort.

Fills a fresh database with 100k tasks in one project (each with a "loss"/"val" metric
summary and an "Args/lr" float hyperparameter) and 200 in a small one, then times the first
page of 50 through the store function and through the real HTTP API. Prints JSON: median
milliseconds per sort. On SQLite the store figures are taken twice: as a fresh database is,
and after ANALYZE (which lets SQLite's planner know a filter matches most of a table).

    .venv/bin/python bench/bench_task_listing.py              # SQLite in a temp dir
    .venv/bin/python bench/bench_task_listing.py --postgres   # a throwaway PostgreSQL server

The target is 100 ms or less per sorted page.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa

# Run as a script from anywhere: tests.services (the PostgreSQL and server helpers) lives at
# the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.services import ServerProcess, postgres_server

from tunelab.domain.task import Execution, Runtime, TaskStatus
from tunelab.store import migrations
from tunelab.store.engine import create_engine
from tunelab.store.schema import projects, task_metrics, task_params, tasks
from tunelab.store.task_listing import TaskQuery, list_tasks

PROJECT = "bench"
SMALL_PROJECT = "bench-small"
SMALL_COUNT = 200
SORTS = (
    "metrics.loss/val.last",
    "-metrics.loss/val.last",
    "metrics.loss/val.min",
    "hyperparameters.Args/lr",
    "-hyperparameters.Args/lr",
    "-last_update",
    "name",
    "-started",
    "-created",
)
# Beyond the first pages: (label, query) pairs, for the record rather than the target.
EXTRA = (
    (
        "small project, metrics.loss/val.last",
        TaskQuery(SMALL_PROJECT, order_by="metrics.loss/val.last"),
    ),
    (
        "page 1000, metrics.loss/val.last",
        TaskQuery(PROJECT, order_by="metrics.loss/val.last", page=1000),
    ),
    ("status running, -last_update", TaskQuery(PROJECT, statuses=("running",))),
)
CHUNK = 5_000


def populate(engine: sa.Engine, count: int, seed: int = 7) -> None:
    """``count`` tasks in one project and a few in another, inserted in bulk through the
    schema."""
    rng = random.Random(seed)
    statuses = [s.value for s in TaskStatus]
    execution, runtime = Execution().to_dict(), Runtime().to_dict()
    start = time.time() - count
    total = count + SMALL_COUNT
    with engine.begin() as conn:
        for number, name in enumerate([PROJECT, SMALL_PROJECT]):
            conn.execute(
                projects.insert().values(
                    id=f"{number:032x}", name=name, description="", created=start, last_update=start
                )
            )
        for first in range(0, total, CHUNK):
            task_rows, metric_rows, param_rows = [], [], []
            for i in range(first, min(first + CHUNK, total)):
                task_id = f"{i:032x}"
                project_id = f"{int(i >= count):032x}"
                task_rows.append(
                    {
                        "id": task_id,
                        "name": f"task-{rng.randrange(10**9):09d}",
                        "project_id": project_id,
                        "type": "training",
                        "status": rng.choice(statuses),
                        "user": "bench",
                        "created": start + i,
                        "started": start + i + rng.random() if rng.random() < 0.8 else None,
                        "last_update": start + i + rng.random() * 100,
                        "execution": execution,
                        "runtime": runtime,
                    }
                )
                last = rng.random()
                metric_rows.append(
                    {
                        "task_id": task_id,
                        "metric": "loss",
                        "variant": "val",
                        "count": 100,
                        "last": last,
                        "last_iter": 99,
                        "min": last * rng.random(),
                        "min_iter": 50,
                        "max": last + rng.random(),
                        "max_iter": 1,
                        "last_time": start + i,
                    }
                )
                param_rows.append(
                    {
                        "task_id": task_id,
                        "section": "Args",
                        "name": "lr",
                        "value": repr(10 ** rng.uniform(-5, 0)),
                        "type": "float",
                        "description": "",
                    }
                )
            conn.execute(tasks.insert(), task_rows)
            conn.execute(task_metrics.insert(), metric_rows)
            conn.execute(task_params.insert(), param_rows)


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm the caches and the connection pool first
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 2)


def time_store(engine: sa.Engine, repeats: int) -> dict[str, float]:
    queries = [(o, TaskQuery(project=PROJECT, order_by=o, page_size=50)) for o in SORTS]
    figures = {}
    for label, query in [*queries, *EXTRA]:

        def run(query: TaskQuery = query) -> object:
            with engine.connect() as conn:
                return list_tasks(conn, query)

        figures[label] = median_ms(run, repeats)
    return figures


def time_http(data_dir: Path, database_url: str | None, repeats: int) -> dict[str, float]:
    server = ServerProcess(data_dir, database_url)
    server.start()
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
            figures = {}
            for order_by in SORTS:
                params = {"project": PROJECT, "order_by": order_by, "page_size": 50}

                def run(params: dict[str, object] = params) -> object:
                    answer = client.get("/tasks", params=params)
                    answer.raise_for_status()
                    return answer.json()

                figures[order_by] = median_ms(run, repeats)
            return figures
    finally:
        server.stop()


@contextmanager
def database(use_postgres: bool, data_dir: Path) -> Iterator[str]:
    if use_postgres:
        with postgres_server() as url:
            yield url
    else:
        yield f"sqlite:///{data_dir / 'tunelab.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="run on PostgreSQL")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        data_dir = Path(tmp)
        with database(args.postgres, data_dir) as url:
            engine = create_engine(url)
            migrations.upgrade(engine)
            began = time.perf_counter()
            populate(engine, args.tasks)
            if args.postgres:
                # What autovacuum would have done by the time anyone lists 100k tasks.
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("VACUUM ANALYZE"))
            fill_s = round(time.perf_counter() - began, 1)
            report: dict[str, object] = {
                "dialect": engine.dialect.name,
                "tasks": args.tasks,
                "fill_seconds": fill_s,
                "page_size": 50,
                "store_ms": time_store(engine, args.repeats),
            }
            if not args.postgres:
                with engine.begin() as conn:
                    conn.execute(sa.text("ANALYZE"))
                report["store_ms_after_analyze"] = time_store(engine, args.repeats)
            engine.dispose()
            if not args.no_http:
                # On SQLite this runs after the ANALYZE above.
                label = "http_ms" if args.postgres else "http_ms_after_analyze"
                report[label] = time_http(data_dir / "server", url, args.repeats)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

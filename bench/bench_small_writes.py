"""Small writes: how many finished tasks one client records per second, on a real server
process, on SQLite and on PostgreSQL (a throwaway server from the tests' helpers).

- ``loop``: three requests per task, as a script recording a short run would: create it
  (running, 5 hyperparameters), post one scalar batch (the SDK's binary frame, 3 series of 10
  points), mark it completed; with httpx, the SDK's HTTP client.
- ``loop_stdlib``: the same three requests from Python's own ``http.client`` (one kept-alive
  connection), a client that costs a third of httpx's CPU per request: how far the server
  lets one client go.
- ``bulk``: ``POST /tasks/batch`` with 100 such tasks (created completed) per request.
- ``store``: the loop's three writes made in-process on the store alone (the same functions
  and transactions, no HTTP), the floor under the server's CPU per task.

Each figure is the best of 3 rounds (``--tasks`` tasks per round, after a warm-up round);
``server_ms`` is the median of the server's own time per request (its Server-Timing header),
``server_cpu_ms`` the median of the server process's CPU time per task (Linux ``/proc``: the
figure that moves least on a host busy with other work), ``client_cpu_ms`` the same for this
process, the client, ``load`` the host's load average.

    .venv/bin/python bench/bench_small_writes.py            # both databases
    .venv/bin/python bench/bench_small_writes.py --sqlite   # SQLite only
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa
from tests.services import ServerProcess, postgres_server

from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, encode_frame
from tunelab.domain.scalar_wire import pack_floats_raw as floats
from tunelab.domain.scalar_wire import pack_ints_raw as ints
from tunelab.server.api.scalars import ingest_frame
from tunelab.server.api.task_models import TaskCreate, TaskUpdate
from tunelab.store import tasks
from tunelab.store.engine import create_engine

BULK_SIZE, ROUNDS = 100, 3
PARAMS = {
    "Args": {
        "lr": {"value": "0.1", "type": "float"},
        "epochs": {"value": "10", "type": "int"},
        "batch_size": {"value": "64", "type": "int"},
        "optimizer": {"value": "sgd", "type": "str"},
        "amp": {"value": "True", "type": "bool"},
    }
}
ITS = list(range(10))
STAMPS = [1.7e9 + i for i in ITS]


def frame() -> bytes:
    series = [
        {"metric": "loss", "variant": v, "iterations": ints(ITS),
         "values": floats([1 / (i + 1) for i in ITS]), "timestamps": floats(STAMPS)}
        for v in ("train", "val", "test")
    ]  # fmt: skip
    return encode_frame(uuid.uuid4().hex, series)


def bulk_task(project: str, n: int) -> dict[str, Any]:
    return {
        "name": f"t{n}",
        "project": project,
        "status": "completed",
        "hyperparameters": PARAMS,
        "scalars": [
            {"metric": "loss", "variant": v, "iterations": ITS,
             "values": [1 / (i + 1) for i in ITS], "timestamps": STAMPS}
            for v in ("train", "val", "test")
        ],
    }  # fmt: skip


def own_ms(answer: httpx.Response, into: list[float]) -> httpx.Response:
    answer.raise_for_status()
    into.append(float(answer.headers["server-timing"].split("dur=")[1]))
    return answer


def loop_round(http: httpx.Client, count: int, server: list[float]) -> float:
    body = {"name": "t", "project": "bench/loop", "status": "running", "hyperparameters": PARAMS}
    start = time.perf_counter()
    for _ in range(count):
        task = own_ms(http.post("/tasks", json=body), server).json()
        own_ms(
            http.post(
                f"/tasks/{task['id']}/scalars/frame",
                content=frame(),
                headers={"Content-Type": FRAME_CONTENT_TYPE},
            ),
            server,
        )
        own_ms(http.patch(f"/tasks/{task['id']}", json={"status": "completed"}), server)
    return count / (time.perf_counter() - start)


def stdlib_round(url: str, count: int, server: list[float]) -> float:
    """``loop_round`` from ``http.client``: it sends a request's head and body in one write."""
    parts = urlsplit(url)
    http = HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    body = json.dumps(
        {"name": "t", "project": "bench/loop", "status": "running", "hyperparameters": PARAMS}
    )
    done = json.dumps({"status": "completed"})

    def ask(method: str, path: str, content: str | bytes, kind: str) -> bytes:
        http.request(method, f"/api/v1{path}", content, {"Content-Type": kind})
        answer = http.getresponse()
        read = answer.read()
        if answer.status >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status} {read[:200]!r}")
        server.append(float(answer.headers["server-timing"].split("dur=")[1]))
        return read

    start = time.perf_counter()
    for _ in range(count):
        task_id = json.loads(ask("POST", "/tasks", body, "application/json"))["id"]
        ask("POST", f"/tasks/{task_id}/scalars/frame", frame(), FRAME_CONTENT_TYPE)
        ask("PATCH", f"/tasks/{task_id}", done, "application/json")
    rate = count / (time.perf_counter() - start)
    http.close()
    return rate


def store_round(engine: sa.Engine, count: int) -> float:
    """The loop's three writes on the store alone: each in its transaction, as the routes."""
    body = TaskCreate.model_validate(
        {"name": "t", "project": "bench/store", "status": "running", "hyperparameters": PARAMS}
    )
    done = TaskUpdate.model_validate({"status": "completed"})
    start = time.perf_counter()
    for _ in range(count):
        with engine.begin() as conn:
            task = tasks.create_task(conn, **body.model_dump())
        ingest_frame(engine, task["id"], frame(), 1_000_000)
        with engine.begin() as conn:
            tasks.update_task(conn, task["id"], done.changes())
    return count / (time.perf_counter() - start)


def bulk_round(http: httpx.Client, count: int, server: list[float]) -> float:
    start = time.perf_counter()
    for first in range(0, count, BULK_SIZE):
        tasks = [bulk_task("bench/bulk", n) for n in range(first, first + BULK_SIZE)]
        own_ms(http.post("/tasks/batch", json={"tasks": tasks}), server)
    return count / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, count: int, pid: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=120) as http:
        cases: list[tuple[str, Callable[[int, list[float]], float]]] = [
            ("loop", functools.partial(loop_round, http)),
            ("loop_stdlib", functools.partial(stdlib_round, url)),
            ("bulk", functools.partial(bulk_round, http)),
        ]
        for name, run in cases:
            run(count // 4, [])  # warm-up
            server: list[float] = []
            rates, cpu, client = [], [], []
            for _ in range(ROUNDS):
                began, mine = cpu_seconds(pid), time.process_time()
                rates.append(run(count, server))
                cpu.append((cpu_seconds(pid) - began) * 1000 / count)
                client.append((time.process_time() - mine) * 1000 / count)
            figures[f"{name}_tasks_per_s"] = round(max(rates))
            figures[f"{name}_server_ms_per_request"] = round(statistics.median(server), 2)
            figures[f"{name}_server_cpu_ms_per_task"] = round(statistics.median(cpu), 2)
            figures[f"{name}_client_cpu_ms_per_task"] = round(statistics.median(client), 2)
    figures["load"] = [round(load, 1) for load in os.getloadavg()]
    return figures


def measure_store(url: str, count: int) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        store_round(engine, count // 4)  # warm-up
        rates, cpu = [], []
        for _ in range(ROUNDS):
            mine = time.process_time()
            rates.append(store_round(engine, count))
            cpu.append((time.process_time() - mine) * 1000 / count)
    finally:
        engine.dispose()
    return {
        "store_tasks_per_s": round(max(rates)),
        "store_cpu_ms_per_task": round(statistics.median(cpu), 2),
    }


@contextmanager
def database(kind: str, data_dir: Path) -> Iterator[str | None]:
    if kind == "postgresql":
        with postgres_server() as url:
            yield url
    else:
        yield None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300, help="tasks per round")
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "small writes from one client (tasks/s)"}
    for kind in ["sqlite"] if args.sqlite else ["sqlite", "postgresql"]:
        with (
            tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp,
            database(kind, Path(tmp)) as url,
        ):
            server = ServerProcess(Path(tmp) / "data", database_url=url)
            server.start()
            try:
                assert server.proc is not None
                report[kind] = measure(server.url, args.tasks, server.proc.pid)
            finally:
                server.stop()
            # The same database, the server stopped: the store's share alone.
            report[kind] |= measure_store(
                url or f"sqlite:///{Path(tmp) / 'data'}/tunelab.db", args.tasks
            )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

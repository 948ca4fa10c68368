"""Small writes: how many finished tasks one client records per second, on a real server
process, on SQLite and on PostgreSQL (a throwaway server from the tests' helpers).

- ``loop``: three requests per task, as a script recording a short run would: create it
  (running, 5 hyperparameters), post one scalar batch (the SDK's binary frame, 3 series of 10
  points), mark it completed.
- ``bulk``: ``POST /tasks/batch`` with 100 such tasks (created completed) per request.

Each figure is the best of 3 rounds (``--tasks`` tasks per round, after a warm-up round);
``server_ms`` is the median of the server's own time per request (its Server-Timing header),
``server_cpu_ms`` the median of the server process's CPU time per task (Linux ``/proc``: the
figure that moves least on a host busy with other work), ``load`` the host's load average.
``--store`` adds the same three writes made in-process on the store alone, per task.

    .venv/bin/python bench/bench_small_writes.py            # both databases
    .venv/bin/python bench/bench_small_writes.py --sqlite   # SQLite only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from tests.services import ServerProcess, postgres_server

from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, encode_frame
from tunelab.domain.scalar_wire import pack_floats_raw as floats
from tunelab.domain.scalar_wire import pack_ints_raw as ints

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
        for name, run in (("loop", loop_round), ("bulk", bulk_round)):
            run(http, count // 4, [])  # warm-up
            server: list[float] = []
            rates, cpu = [], []
            for _ in range(ROUNDS):
                began = cpu_seconds(pid)
                rates.append(run(http, count, server))
                cpu.append((cpu_seconds(pid) - began) * 1000 / count)
            figures[f"{name}_tasks_per_s"] = round(max(rates))
            figures[f"{name}_server_ms_per_request"] = round(statistics.median(server), 2)
            figures[f"{name}_server_cpu_ms_per_task"] = round(statistics.median(cpu), 2)
    figures["load"] = [round(load, 1) for load in os.getloadavg()]
    return figures


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
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

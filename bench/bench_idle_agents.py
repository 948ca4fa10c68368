"""What idle agents cost the server, and how fast an enqueue reaches one. Prints JSON.

    .venv/bin/python bench/bench_idle_agents.py [--agents 100] [--seconds 20]
        [--poll-timeout 25] [--heartbeat 0] [--rounds 10] [--db postgres|sqlite]

On PostgreSQL (a throwaway cluster in a temporary directory, the one the tests start): two
``tunelab server`` replicas on one database. ``--agents`` simulated idle agents, split
between the replicas, each register a worker on a queue of their own and send long polls
(``POST /workers/{id}/next`` with ``--poll-timeout``, by default the agent's own) one after
the other, as the agent does; ``--heartbeat S`` adds a heartbeat every S seconds (the real
agent beats only while it runs a task).
After 12 s to settle, over ``--seconds`` of that:

- ``commits_per_s``: ``xact_commit`` of the database in ``pg_stat_database``, per second,
  and ``transactions_per_s``: the same with ``xact_rollback`` added (a read that ends without
  a commit is still a transaction);
- ``server_core_percent``: the replicas' CPU time (user + system, from ``/proc``) over the
  wall time, summed: 100 is one core busy.

Then the wake latency, ``--rounds`` times each with the idle agents still polling: a probe
worker polls replica A, a draft is enqueued through A (``same_replica``) or through B
(``cross_replica``), and the latency runs from just before the enqueue request to the
probe's answer (median and max, in ms; beside it the enqueue request's own median).

``--db sqlite``: one server on its SQLite file, so there is no cross-replica figure;
``commits_per_s`` there counts the commits that changed the file (``PRAGMA data_version``
read every 20 ms from a connection of the bench's own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import ServerProcess, postgres_database, postgres_server

from tunelab.agent.daemon import POLL_TIMEOUT

TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_SECONDS = 12.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


@contextlib.contextmanager
def servers(db: str, root: Path) -> Iterator[tuple[list[ServerProcess], str | None]]:
    if db == "sqlite":
        server = ServerProcess(root / "a")
        server.start()
        try:
            yield [server], None
        finally:
            server.stop()
        return
    with postgres_server() as cluster, postgres_database(cluster, "bench") as url:
        replicas = [ServerProcess(root / name, url) for name in ("a", "b")]
        try:
            for replica in replicas:
                replica.start()
            yield replicas, url
        finally:
            for replica in replicas:
                replica.stop()


def transactions(engine: sa.Engine | None) -> tuple[int, int]:
    """PostgreSQL's count of commits and rollbacks in the database so far."""
    if engine is None:
        return 0, 0
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT xact_commit, xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        ).one()
    return int(row[0]), int(row[1])


class SqliteCommits:
    """Commits that changed a SQLite file, counted by another connection's data_version."""

    def __init__(self, path: Path | None) -> None:
        self.count = 0
        self._path = path
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SqliteCommits:
        if self._path is not None:  # None: not on SQLite
            self._task = asyncio.create_task(self._watch(self._path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _watch(self, path: Path) -> None:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            seen = conn.execute("PRAGMA data_version").fetchone()[0]
            while not self._stop.is_set():
                await asyncio.sleep(0.02)
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != seen:
                    self.count, seen = self.count + 1, version
        finally:
            conn.close()


async def register(client: httpx.AsyncClient, queue: str) -> str:
    worker = f"bench:{uuid.uuid4().hex[:10]}"
    answer = await client.post("/workers", json={"id": worker, "queues": [queue]})
    answer.raise_for_status()
    return worker


async def idle_agent(
    client: httpx.AsyncClient, poll_timeout: float, heartbeat: float, stop: asyncio.Event
) -> None:
    worker = await register(client, f"idle-{uuid.uuid4().hex[:8]}")

    async def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), heartbeat)
            if not stop.is_set():
                await client.post(f"/workers/{worker}/heartbeat", json={"task_id": None})

    beats = asyncio.create_task(beat()) if heartbeat > 0 else None
    # A first poll of random length: agents started at different times poll out of step.
    timeout = random.uniform(0.5, poll_timeout)
    while not stop.is_set():
        answer = await client.post(f"/workers/{worker}/next", json={"timeout": timeout})
        answer.raise_for_status()
        timeout = poll_timeout
    if beats is not None:
        await beats


async def wake_latency(
    polled: httpx.AsyncClient, through: httpx.AsyncClient
) -> tuple[float, float]:
    """Milliseconds from just before an enqueue through ``through`` to the answer of a
    poll waiting on ``polled``, and to the enqueue's own answer."""
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    worker = await register(polled, queue)
    created = await through.post("/tasks", json={"name": "probe", "project": "bench-idle"})
    task_id = created.json()["id"]
    poll = asyncio.create_task(polled.post(f"/workers/{worker}/next", json={"timeout": 20}))
    # The poll's first attempt is long over: it waits. A random pause, so the enqueue does
    # not fall in step with any periodic re-check the server makes.
    await asyncio.sleep(random.uniform(0.5, 1.0))
    began = time.perf_counter()
    answer = await through.post(f"/tasks/{task_id}/enqueue", json={"queue": queue})
    answer.raise_for_status()
    enqueued = time.perf_counter()
    taken = (await poll).json()["task"]
    assert taken is not None and taken["id"] == task_id, taken
    return (time.perf_counter() - began) * 1000, (enqueued - began) * 1000


def summary(rounds: list[tuple[float, float]]) -> dict[str, float]:
    latencies = [latency for latency, _ in rounds]
    return {
        "median_ms": round(statistics.median(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "enqueue_answer_median_ms": round(statistics.median(e for _, e in rounds), 1),
    }


async def measure(replicas: list[ServerProcess], url: str | None, args: Any) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.agents + 20, max_keepalive_connections=None)
    clients = [
        httpx.AsyncClient(base_url=f"{r.url}/api/v1", timeout=args.poll_timeout + 30, limits=limits)
        for r in replicas
    ]
    engine = sa.create_engine(url, poolclass=sa.NullPool) if url else None
    stop = asyncio.Event()
    agents = [
        asyncio.create_task(
            idle_agent(clients[i % len(clients)], args.poll_timeout, args.heartbeat, stop)
        )
        for i in range(args.agents)
    ]
    # Every agent registered and polling, and PostgreSQL's statistics caught up: a backend
    # reports its commits up to 10 s late.
    await asyncio.sleep(SETTLE_SECONDS)
    pids = [r.proc.pid for r in replicas if r.proc is not None]
    sqlite_file = None if url else replicas[0].data_dir / "tunelab.db"
    async with SqliteCommits(sqlite_file) as sqlite_commits:
        cpu0, xacts0, t0 = sum(map(cpu_seconds, pids)), transactions(engine), time.monotonic()
        sqlite0 = sqlite_commits.count
        await asyncio.sleep(args.seconds)
        cpu1, xacts1, t1 = sum(map(cpu_seconds, pids)), transactions(engine), time.monotonic()
        sqlite1 = sqlite_commits.count
    wall = t1 - t0
    report: dict[str, Any] = {
        "agents": args.agents,
        "replicas": len(replicas),
        "poll_timeout_s": args.poll_timeout,
        "heartbeat_s": args.heartbeat or None,
        "seconds": round(wall, 1),
        "server_core_percent": round(100 * (cpu1 - cpu0) / wall, 2),
    }
    if engine is not None:
        report["commits_per_s"] = round((xacts1[0] - xacts0[0]) / wall, 1)
        report["transactions_per_s"] = round((sum(xacts1) - sum(xacts0)) / wall, 1)
    else:
        report["commits_per_s"] = round((sqlite1 - sqlite0) / wall, 2)
    a, b = clients[0], clients[-1]
    report["same_replica"] = summary([await wake_latency(a, a) for _ in range(args.rounds)])
    if len(clients) > 1:
        report["cross_replica"] = summary([await wake_latency(a, b) for _ in range(args.rounds)])
    stop.set()
    for agent in agents:  # a poll in flight would take up to its timeout to end
        agent.cancel()
    await asyncio.gather(*agents, return_exceptions=True)
    for client in clients:
        await client.aclose()
    if engine is not None:
        engine.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--poll-timeout", type=float, default=POLL_TIMEOUT)
    parser.add_argument("--heartbeat", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tunelab-bench-idle-") as tmp,
        servers(args.db, Path(tmp)) as (replicas, url),
    ):
        report = asyncio.run(measure(replicas, url, args))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

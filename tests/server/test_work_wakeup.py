"""Waking the workers' long polls (``POST /workers/{id}/next``) on real server processes.

An idle poll waits for an enqueue to wake it, not a re-check (what it costs the store is in
``test_idle_polls``), and on PostgreSQL an enqueue through one replica wakes the polls of
every replica through ``LISTEN``/``NOTIFY``, also once the listening connection was lost and
made again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.server.answers import ok
from tests.services import ServerProcess, postgres_database
from tests.waiting import wait_for
from tunelab.server.pg_notify import CHECK_SECONDS
from tunelab.store.schema import queue_entries, tasks

# The name each replica's listening connection shows in pg_stat_activity.
LISTENER = "tunelab work listener"
# A short worker timeout: the server then notes the workers whose polls wait every second
# (``worker_presence``), which is how a test sees that its poll is under way.
QUICK_UPKEEP = {"TUNELAB_WORKER_TIMEOUT": "4"}


@pytest.fixture(scope="module")
def replica_database(postgres_url: str) -> Iterator[str]:
    with postgres_database(postgres_url, "wakeup") as url:
        yield url


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, replica_database: str
) -> Iterator[tuple[str, str]]:
    """Two replicas on one PostgreSQL database (started one after the other)."""
    root = tmp_path_factory.mktemp("replicas")
    servers = [ServerProcess(root / name, replica_database, QUICK_UPKEEP) for name in ("a", "b")]
    try:
        for server in servers:
            server.start()
        yield servers[0].url + "/api/v1", servers[1].url + "/api/v1"
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def idle_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A server on SQLite, or the first of the PostgreSQL replicas."""
    if request.param == "postgres":
        yield request.getfixturevalue("replicas")[0]
        return
    server = ServerProcess(tmp_path_factory.mktemp("wakeup"), env=QUICK_UPKEEP)
    server.start()
    yield f"{server.url}/api/v1"
    server.stop()


def register(client: httpx.Client) -> tuple[str, str]:
    """A new worker serving a new queue: (worker id, queue)."""
    queue = f"q-{uuid.uuid4().hex[:10]}"
    worker = f"host:{uuid.uuid4().hex[:8]}"
    ok(client.post("/workers", json={"id": worker, "queues": [queue]}))
    return worker, queue


def draft(client: httpx.Client) -> str:
    task = ok(client.post("/tasks", json={"name": "t", "project": "wakeup"}), 201)
    task_id: str = task["id"]
    return task_id


def heartbeat(client: httpx.Client, worker: str) -> float:
    found: float = next(
        w["last_heartbeat"] for w in ok(client.get("/workers"))["items"] if w["id"] == worker
    )
    return found


class Poll:
    """One long poll in a thread; ``answer`` and ``at`` (monotonic) once it returns."""

    def __init__(self, api: str, worker: str, timeout: float) -> None:
        self.answer: dict[str, Any] = {}
        self.at = 0.0

        def run() -> None:
            with httpx.Client(base_url=api, timeout=timeout + 30) as own:
                self.answer = ok(own.post(f"/workers/{worker}/next", json={"timeout": timeout}))
                self.at = time.monotonic()

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def join(self) -> dict[str, Any]:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        return self.answer


def start_poll(client: httpx.Client, api: str, worker: str, timeout: float) -> Poll:
    """A poll under way: the server noted its worker as seen (a poll writes nothing itself,
    the upkeep writes the heartbeats of the workers whose polls it saw)."""
    since = heartbeat(client, worker)
    poll = Poll(api, worker, timeout)
    wait_for(lambda: heartbeat(client, worker) > since, 10, "the poll to be noted")
    return poll


def test_a_waiting_poll_keeps_its_worker_alive(idle_server: str) -> None:
    with httpx.Client(base_url=idle_server, timeout=30) as client:
        worker, _queue = register(client)
        poll = start_poll(client, idle_server, worker, timeout=5)  # longer than the timeout
        assert poll.join() == {"task": None}
        assert worker in {w["id"] for w in ok(client.get("/workers"))["items"]}


def enqueue_wakes(polled: str, through: str) -> float:
    """Seconds from an enqueue through ``through`` until a poll waiting on ``polled`` got
    the task."""
    with httpx.Client(base_url=polled, timeout=30) as a, httpx.Client(base_url=through) as b:
        worker, queue = register(a)
        task_id = draft(b)
        poll = start_poll(a, polled, worker, timeout=20)
        ok(b.post(f"/tasks/{task_id}/enqueue", json={"queue": queue}))
        enqueued = time.monotonic()
        assert poll.join()["task"]["id"] == task_id
        return poll.at - enqueued


@pytest.mark.postgres
def test_an_enqueue_through_one_replica_wakes_a_poll_on_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    assert enqueue_wakes(polled=a, through=b) < 1.0
    assert enqueue_wakes(polled=b, through=a) < 1.0
    assert enqueue_wakes(polled=a, through=a) < 1.0


@pytest.mark.postgres
def test_an_enqueue_leaves_the_polls_of_other_queues_alone(replicas: tuple[str, str]) -> None:
    a, b = replicas
    with httpx.Client(base_url=a, timeout=30) as client:
        bystander, _queue = register(client)
        poll = start_poll(client, a, bystander, timeout=2.5)
        assert enqueue_wakes(polled=a, through=b) < 1.0
        # Whether it looked at the store again is counted in test_idle_polls.
        assert poll.join() == {"task": None}


@pytest.mark.postgres
def test_an_enqueue_whose_notification_is_lost_is_found_within_seconds(
    replicas: tuple[str, str], replica_database: str
) -> None:
    a, _b = replicas
    with httpx.Client(base_url=a, timeout=30) as client:
        worker, queue = register(client)
        queue_id = ok(client.post("/queues", json={"name": queue}))["id"]  # registered with it
        task_id = draft(client)
        poll = start_poll(client, a, worker, timeout=20)
        engine = sa.create_engine(replica_database)
        try:
            with engine.begin() as conn:  # what an enqueue writes, without its notification
                conn.execute(tasks.update().where(tasks.c.id == task_id).values(status="queued"))
                conn.execute(
                    queue_entries.insert().values(
                        task_id=task_id, queue_id=queue_id, position=1, added=time.time()
                    )
                )
            written = time.monotonic()
        finally:
            engine.dispose()
        assert poll.join()["task"]["id"] == task_id
        assert poll.at - written < CHECK_SECONDS + 2


def listeners(engine: sa.Engine) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": LISTENER},
            ).scalars()
        )


@pytest.mark.postgres
def test_a_lost_listening_connection_is_made_again(
    replicas: tuple[str, str], replica_database: str
) -> None:
    engine = sa.create_engine(replica_database)
    try:
        before = wait_for(lambda: len(found := listeners(engine)) == 2 and found, 10, "listeners")
        with engine.connect() as conn:
            for pid in before:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        wait_for(
            lambda: len(now := listeners(engine)) == 2 and not now & before,
            15,
            "both replicas to listen again",
        )
    finally:
        engine.dispose()
    a, b = replicas
    assert enqueue_wakes(polled=a, through=b) < 1.0

"""More requests at once than the server has worker threads (anyio's 40) must all be answered
promptly, on SQLite as on PostgreSQL.

The 64-client load found the server stalling here: each request's ``Conn`` dependency takes a
pooled connection (on SQLite with ``BEGIN IMMEDIATE``, the write lock) in one worker thread
and runs the route in another; once every thread waits for a connection or the lock, the
request holding the lock waits for a thread, and all of them wait 30 s and fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounts import AUTH_ON
from tests.load.accounts import make_load_accounts
from tests.services import ServerProcess
from tunelab.store.engine import sqlite_url

REQUESTS = 120  # three times the worker threads
DEADLINE_S = 10.0  # far beyond the ~1 s they take together; the stall lasts 30 s


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "sqlite-login"]
)
def busy_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """The server, and the headers its requests need (with login on, every request's key is
    looked up too: one more transaction through the same gate)."""
    url = request.getfixturevalue("postgres_database") if request.param == "postgres" else None
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    headers, env = {}, None
    if request.param == "sqlite-login":
        key = make_load_accounts(sqlite_url(data_dir)).client
        headers, env = {"Authorization": f"Bearer {key}"}, AUTH_ON
    server = ServerProcess(data_dir, database_url=url, env=env)
    server.start()
    try:
        yield server, headers
    finally:
        server.stop()


def test_more_concurrent_writes_than_worker_threads_are_all_answered(
    busy_server: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, headers = busy_server
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        created = http.post("/api/v1/tasks", json={"name": "busy", "project": "busy"})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
    start = threading.Barrier(REQUESTS)
    answers: list[tuple[int, float]] = []

    def post(k: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            body = {"lines": [{"stream": "stdout", "text": f"line {k}", "ts": time.time()}]}
            start.wait()
            began = time.monotonic()
            try:
                status = client.post(f"/api/v1/tasks/{task_id}/console", json=body).status_code
            except httpx.HTTPError:
                status = 0
            answers.append((status, time.monotonic() - began))

    threads = [threading.Thread(target=post, args=(k,)) for k in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [200] * REQUESTS
    slowest = max(seconds for _, seconds in answers)
    assert slowest < DEADLINE_S, f"the slowest of {REQUESTS} took {slowest:.1f} s"
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        lines = http.get(f"/api/v1/tasks/{task_id}/console", params={"limit": 1000}).json()
    assert sorted(line["text"] for line in lines["lines"]) == sorted(
        f"line {k}" for k in range(REQUESTS)
    )

"""What idle workers cost the server: a poll that finds nothing writes nothing, an enqueue
wakes only the polls of its queue, and a server stopping answers the polls that wait.

The first two run the app in this process, to watch every statement its engine sends.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tests.event_loop import run_coroutine
from tests.server.answers import ok
from tests.services import ServerProcess
from tunelab.domain.access import UserKind
from tunelab.server.app import create_app
from tunelab.server.settings import ServerSettings
from tunelab.store import auth_tokens, migrations, users
from tunelab.store.engine import create_engine, sqlite_url

WRITES = ("insert", "update", "delete")


class Traffic:
    """Every commit and statement of ``engine``, and the statements naming ``who``."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.commits = 0
        self.statements: list[tuple[str, str]] = []
        sa.event.listen(engine, "commit", self._commit)
        sa.event.listen(engine, "before_cursor_execute", self._statement)

    def close(self) -> None:
        sa.event.remove(self.engine, "commit", self._commit)
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)

    def writes(self) -> list[str]:
        return [sql for sql, _ in self.statements if sql.lstrip().lower().startswith(WRITES)]

    def naming(self, who: str) -> int:
        return sum(1 for _, params in self.statements if who in params)

    def _commit(self, _conn: sa.Connection) -> None:
        self.commits += 1

    def _statement(self, _conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        self.statements.append((sql, repr(params)))


@pytest.fixture(scope="module")
def app(server_database: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app on SQLite or PostgreSQL, without its lifespan: no upkeep, no listener, so
    every statement seen comes from the requests."""
    data = tmp_path_factory.mktemp("idle-polls")
    application = create_app(ServerSettings.from_env(data_dir=data, database_url=server_database))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def traffic(app: FastAPI) -> Iterator[Traffic]:
    watched = Traffic(app.state.engine)
    yield watched
    watched.close()


@pytest.fixture(scope="module")
def login_app(
    server_database: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, str]]:
    """The app asking for login, and a worker account's API key."""
    data = tmp_path_factory.mktemp("idle-polls-login")
    url = server_database or sqlite_url(data)
    engine = create_engine(url)
    try:
        migrations.upgrade(engine)
        with engine.begin() as conn:
            users.create_user(
                conn, f"admin-{uuid.uuid4().hex[:6]}", kind=UserKind.ADMIN, password_hash="-"
            )
            agent = users.create_user(conn, f"agent-{uuid.uuid4().hex[:6]}", kind=UserKind.WORKER)
            _record, key = auth_tokens.create_token(conn, agent["id"], "agent")
    finally:
        engine.dispose()
    application = create_app(ServerSettings.from_env(data_dir=data, database_url=url, auth="on"))
    yield application, key
    application.state.engine.dispose()


def api(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=transport, base_url="http://idle/api/v1", timeout=30, headers=headers
    )


async def register(client: httpx.AsyncClient) -> tuple[str, str]:
    worker, queue = f"host:{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    ok(await client.post("/workers", json={"id": worker, "queues": [queue]}))
    return worker, queue


async def poll(client: httpx.AsyncClient, worker: str, timeout: float) -> Any:
    return ok(await client.post(f"/workers/{worker}/next", json={"timeout": timeout}))["task"]


def test_idle_polls_commit_nothing(app: FastAPI, traffic: Traffic) -> None:
    async def scenario() -> None:
        async with api(app) as client:
            worker, _queue = await register(client)
            traffic.commits, traffic.statements = 0, []
            for _ in range(10):
                assert await poll(client, worker, 0) is None
            assert await poll(client, worker, 0.3) is None  # one that waits, then times out

    run_coroutine(scenario())
    assert traffic.writes() == []
    assert traffic.commits == 0


def test_idle_polls_with_an_api_key_commit_nothing(login_app: tuple[FastAPI, str]) -> None:
    app, key = login_app
    traffic = Traffic(app.state.engine)

    async def scenario() -> None:
        async with api(app, key) as client:
            worker, _queue = await register(client)  # the key's first use is noted here
            traffic.commits, traffic.statements = 0, []
            for _ in range(10):
                assert await poll(client, worker, 0) is None

    try:
        run_coroutine(scenario())
    finally:
        traffic.close()
    assert traffic.writes() == []
    assert traffic.commits == 0


def test_an_enqueue_wakes_only_the_polls_of_its_queue(app: FastAPI, traffic: Traffic) -> None:
    async def scenario() -> tuple[Any, int]:
        async with api(app) as client:
            bystander, _other = await register(client)
            worker, queue = await register(client)
            task = ok(await client.post("/tasks", json={"name": "t", "project": "idle"}), 201)
            waiting = asyncio.create_task(poll(client, bystander, 1.5))
            taking = asyncio.create_task(poll(client, worker, 10))
            await asyncio.sleep(0.3)  # both have made their first attempt and wait
            attempts = traffic.naming(bystander)
            ok(await client.post(f"/tasks/{task['id']}/enqueue", json={"queue": queue}))
            taken = await asyncio.wait_for(taking, 5)
            assert await waiting is None
            return taken, traffic.naming(bystander) - attempts

    taken, bystander_statements = run_coroutine(scenario())
    assert taken is not None
    assert bystander_statements == 0  # not woken: it never looked at the store again


def test_a_stopping_server_answers_its_waiting_polls_at_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server")
    server.start()
    answers: list[Any] = []
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=60) as client:
        worker = f"host:{uuid.uuid4().hex[:8]}"
        ok(client.post("/workers", json={"id": worker, "queues": ["stopping"]}))

        def wait_in_a_poll() -> None:
            with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
                answers.append(own.post(f"/workers/{worker}/next", json={"timeout": 30}))

        polls = [threading.Thread(target=wait_in_a_poll) for _ in range(3)]
        for thread in polls:
            thread.start()
        time.sleep(0.5)  # the polls wait
        began = time.monotonic()
        server.stop()
        took = time.monotonic() - began
        for thread in polls:
            thread.join(timeout=30)
    assert took < 5.0, f"the server took {took:.1f} s to stop"  # not its polls' 30 s
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer.json() for answer in answers] == [{"task": None}] * 3

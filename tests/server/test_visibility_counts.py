"""On a server that asks for login, the queue and worker lists count and name only the tasks
of projects the account may see (queues and workers are shared by every project), and the
API's own documentation is for signed-in accounts, like every other API route."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.accounts import AUTH_ON, make_accounts
from tests.server.answers import ok
from tests.services import ServerProcess
from tunelab.domain.access import UserKind
from tunelab.store.engine import sqlite_url

SHARED = "shared-queue"
RUN = "run-queue"
WORKER = "w-b"
ACCOUNTS = {
    "root": UserKind.ADMIN,
    "alice": UserKind.MEMBER,  # owns team-a: two tasks wait in the shared queue
    "bob": UserKind.MEMBER,  # owns team-b: one task waits there, one runs on the worker
    "carol": UserKind.MEMBER,  # no project at all
    "agent": UserKind.WORKER,
}


@dataclass
class Scene:
    server: ServerProcess
    keys: dict[str, str]
    running: str  # team-b's task, run by WORKER


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    data_dir: Path = tmp_path_factory.mktemp("visibility")
    made = make_accounts(sqlite_url(data_dir), ACCOUNTS)
    keys = {name: account.key for name, account in made.items()}
    server = ServerProcess(data_dir, env=AUTH_ON)
    server.start()
    try:
        with _as(server.url, keys["alice"]) as alice, _as(server.url, keys["bob"]) as bob:
            for queue in (SHARED, RUN):
                assert alice.post("/api/v1/queues", json={"name": queue}).status_code in (200, 201)
            for n in range(2):
                _enqueue(alice, "team-a", f"a-{n}", SHARED)
            _enqueue(bob, "team-b", "b-waits", SHARED)
            running = _enqueue(bob, "team-b", "b-runs", RUN)
        with _as(server.url, keys["agent"]) as agent:
            ok(agent.post("/api/v1/workers", json={"id": WORKER, "queues": [RUN]}))
            taken = ok(agent.post(f"/api/v1/workers/{WORKER}/next", json={"timeout": 0}))
            assert taken["task"]["id"] == running
        yield Scene(server, keys, running)
    finally:
        server.stop()


def _as(url: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _enqueue(client: httpx.Client, project: str, name: str, queue: str) -> str:
    task = ok(client.post("/api/v1/tasks", json={"name": name, "project": project}), 201)
    ok(client.post(f"/api/v1/tasks/{task['id']}/enqueue", json={"queue": queue}))
    return str(task["id"])


@pytest.mark.parametrize(
    ("account", "shared", "run"),
    [("root", 3, 0), ("agent", 3, 0), ("alice", 2, 0), ("bob", 1, 0), ("carol", 0, 0)],
)
def test_queue_lengths_count_only_visible_tasks(
    scene: Scene, account: str, shared: int, run: int
) -> None:
    with _as(scene.server.url, scene.keys[account]) as client:
        listed = ok(client.get("/api/v1/queues"))["items"]
    lengths = {queue["name"]: queue["length"] for queue in listed}
    assert lengths[SHARED] == shared
    assert lengths[RUN] == run
    # The workers serving a queue are no project's secret.
    assert {q["name"]: q["workers"] for q in listed}[RUN] == [WORKER]


@pytest.mark.parametrize(
    ("account", "sees_task"),
    [("root", True), ("agent", True), ("bob", True), ("alice", False), ("carol", False)],
)
def test_workers_name_only_visible_tasks(scene: Scene, account: str, sees_task: bool) -> None:
    with _as(scene.server.url, scene.keys[account]) as client:
        (worker,) = ok(client.get("/api/v1/workers"))["items"]
        page = client.get("/workers")
    assert worker["id"] == WORKER
    assert worker["queues"] == [RUN]
    assert worker["task_id"] == (scene.running if sees_task else None)
    assert page.status_code == 200
    assert (scene.running in page.text) is sees_task


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
def test_api_documentation_needs_login(scene: Scene, path: str) -> None:
    with _as(scene.server.url, None) as anonymous:
        refused = anonymous.get(path)
    assert refused.status_code == 401, refused.text[:300]
    assert refused.json()["error"]["code"] == "unauthorized"
    with _as(scene.server.url, scene.keys["carol"]) as member:
        answer = member.get(path)
    assert answer.status_code == 200
    if path.endswith(".json"):
        assert "/api/v1/tasks" in answer.json()["paths"]
    else:
        assert "/api/v1/openapi.json" in answer.text

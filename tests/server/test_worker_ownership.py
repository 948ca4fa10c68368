"""A worker id belongs to the account that registered it: another worker account cannot
register it again (taking over its running task), heartbeat for it, take tasks as it or
unregister it (failing its task). Admins may. On a real server asking for login, on
SQLite and PostgreSQL (``tests.server.access_world``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.accounts import make_accounts
from tests.server import access_world as aw
from tests.server.access_world import World
from tests.server.answers import ok
from tunelab.domain.access import UserKind

world = aw.world


@pytest.fixture(scope="module")
def intruder(world: World) -> Iterator[httpx.Client]:
    """A second worker account's API client."""
    made = make_accounts(world.database_url, {"agent-2": UserKind.WORKER}, key_name="other")
    with aw.api_client(world, made["agent-2"].key) as client:
        yield client


def _worker(world: World) -> dict[str, object]:
    with aw.api_client(world, world.keys["root"]) as root:
        listed = ok(root.get("/api/v1/workers"))["items"]
    return next(w for w in listed if w["id"] == aw.WORKER)


def _running_task(world: World) -> dict[str, object]:
    with aw.api_client(world, world.keys["root"]) as root:
        return dict(ok(root.get(f"/api/v1/tasks/{world.running_task}")))


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "forbidden"
    assert aw.WORKER in error["message"]


def test_another_worker_account_cannot_register_the_id(
    world: World, intruder: httpx.Client
) -> None:
    before = _worker(world)
    _refused(intruder.post("/api/v1/workers", json={"id": aw.WORKER, "queues": ["mine"]}))
    # Still serving its queues, still running its task. Its heartbeat may move meanwhile:
    # the server notes the worker's own earlier polls in batches, a moment later.
    after = _worker(world)
    assert {**after, "last_heartbeat": None} == {**before, "last_heartbeat": None}
    assert before["task_id"] == world.running_task
    assert _running_task(world)["status"] == "running"


def test_another_worker_account_cannot_heartbeat_or_take_tasks_as_it(
    world: World, intruder: httpx.Client
) -> None:
    beat = {"task_id": None}
    _refused(intruder.post(f"/api/v1/workers/{aw.WORKER}/heartbeat", json=beat))
    _refused(intruder.post(f"/api/v1/workers/{aw.WORKER}/next", json={"timeout": 0}))
    assert _worker(world)["task_id"] == world.running_task


def test_another_worker_account_cannot_unregister_it(world: World, intruder: httpx.Client) -> None:
    _refused(intruder.delete(f"/api/v1/workers/{aw.WORKER}"))
    assert _worker(world)["id"] == aw.WORKER
    assert _worker(world)["task_id"] == world.running_task
    assert _running_task(world)["status"] == "running"


def test_a_member_cannot_start_a_task_on_someone_elses_worker(world: World) -> None:
    with aw.api_client(world, world.keys["owner-a"]) as owner_a:
        draft = ok(owner_a.post("/api/v1/tasks", json={"name": "d", "project": aw.PROJECT_A}), 201)
        _refused(owner_a.post(f"/api/v1/tasks/{draft['id']}/start", json={"worker": aw.WORKER}))
        assert ok(owner_a.get(f"/api/v1/tasks/{draft['id']}"))["status"] == "draft"


def test_the_owner_and_admins_still_may(world: World, intruder: httpx.Client) -> None:
    beat = {"task_id": world.running_task}
    with (
        aw.api_client(world, world.keys["agent"]) as agent,
        aw.api_client(world, world.keys["root"]) as root,
    ):
        assert ok(agent.post(f"/api/v1/workers/{aw.WORKER}/heartbeat", json=beat)) == {"stop": []}
        assert ok(root.post(f"/api/v1/workers/{aw.WORKER}/heartbeat", json=beat)) == {"stop": []}
        # A worker account registers ids of its own; the other account cannot take them.
        ok(intruder.post("/api/v1/workers", json={"id": "w-intruder", "queues": ["q-i"]}))
        _refused_own = agent.post("/api/v1/workers/w-intruder/heartbeat", json={"task_id": None})
        assert _refused_own.status_code == 403, _refused_own.text
        ok(intruder.post("/api/v1/workers/w-intruder/heartbeat", json={"task_id": None}))
        assert intruder.delete("/api/v1/workers/w-intruder").status_code == 204
    assert _worker(world)["task_id"] == world.running_task

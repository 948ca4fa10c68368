"""Task keys and the projects models go into, on a real server asking for login (SQLite and
PostgreSQL, ``tests.server.access_world``).

A task taken from a queue comes with a key of its own: it reads what the account that
enqueued it may read, writes only that task (its outputs, files, models in its project), and
answers 401 once the task has ended. ``POST /models`` checks the project it writes to,
whatever task the model names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.server import access_world as aw
from tests.server.access_world import World
from tests.server.answers import ok

world = aw.world

QUEUE = "keys-queue"
WORKER = "w-keys"


@dataclass
class Dispatched:
    task_id: str
    key: str
    client: httpx.Client  # the key's


@pytest.fixture
def dispatched(world: World) -> Iterator[Dispatched]:
    """A task of team-a's enqueued by owner-a, taken by the worker account: its key."""
    with (
        aw.api_client(world, world.keys["owner-a"]) as owner_a,
        aw.api_client(world, world.keys["agent"]) as agent,
    ):
        body = {"name": "keyed run", "project": aw.PROJECT_A}
        task_id = ok(owner_a.post("/api/v1/tasks", json=body), 201)["id"]
        ok(owner_a.post(f"/api/v1/tasks/{task_id}/enqueue", json={"queue": QUEUE}))
        ok(agent.post("/api/v1/workers", json={"id": WORKER, "queues": [QUEUE]}))
        taken = ok(agent.post(f"/api/v1/workers/{WORKER}/next", json={"timeout": 0}))["task"]
        assert taken["id"] == task_id
        key = taken["task_key"]
        assert key != world.keys["agent"]
        with aw.api_client(world, key) as client:
            yield Dispatched(task_id, key, client)
        agent.patch(f"/api/v1/tasks/{task_id}", json={"status": "completed"})


def _forbidden(answer: httpx.Response) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "forbidden"


def test_the_key_writes_its_own_task(world: World, dispatched: Dispatched) -> None:
    me, t = dispatched.client, dispatched.task_id
    ok(me.post(f"/api/v1/tasks/{t}/scalars", json=aw.scalar_batch("key-metric")))
    line = {"stream": "stdout", "text": "from the script", "ts": 1.0}
    ok(me.post(f"/api/v1/tasks/{t}/console", json={"lines": [line]}))
    ok(me.patch(f"/api/v1/tasks/{t}", json={"comment": "written by the run"}))
    key = f"{aw.PROJECT_A}/keyed run.{t}/artifacts/out/out.bin"
    ok(me.put(f"/api/v1/files/{key}", content=b"output"), 201)
    model = ok(me.post("/api/v1/models", json={"name": "m", "task_id": t}), 201)
    ok(me.patch(f"/api/v1/models/{model['id']}", json={"comment": "mine"}))
    with aw.api_client(world, world.keys["owner-a"]) as owner_a:
        task = ok(owner_a.get(f"/api/v1/tasks/{t}"))
        assert task["comment"] == "written by the run"
        assert "key-metric" in ok(owner_a.get(f"/api/v1/tasks/{t}/metrics"))["metrics"]
        assert owner_a.get(f"/api/v1/files/{key}").content == b"output"


def test_the_key_reads_what_its_enqueuer_may(world: World, dispatched: Dispatched) -> None:
    me = dispatched.client
    assert ok(me.get(f"/api/v1/tasks/{world.task}"))["name"] == aw.A_TASK
    _forbidden(me.get(f"/api/v1/tasks/{world.task_b}"))
    _forbidden(me.get(f"/api/v1/models/{world.model_b}"))
    listed = me.get("/api/v1/tasks", params={"page_size": 500}).text
    assert aw.A_TASK in listed
    assert not [marker for marker in aw.MARKERS_B if marker in listed]
    # Not its owner's account: no keys, no accounts, no pages.
    for path in ("/api/v1/tokens", "/api/v1/users", "/api/v1/users/me"):
        _forbidden(me.get(path))
    assert me.get("/").status_code == 403


def test_the_key_writes_nothing_else(world: World, dispatched: Dispatched) -> None:
    me, t = dispatched.client, dispatched.task_id
    # Another task owner-a may change: not this key's.
    _forbidden(me.patch(f"/api/v1/tasks/{world.task}", json={"comment": "planted"}))
    _forbidden(me.post(f"/api/v1/tasks/{world.task}/scalars", json=aw.scalar_batch("x")))
    other_file = f"{aw.PROJECT_A}/{aw.A_TASK}.{world.task}/artifacts/x/x.bin"
    _forbidden(me.put(f"/api/v1/files/{other_file}", content=b"planted"))
    _forbidden(me.patch(f"/api/v1/models/{world.model}", json={"comment": "planted"}))
    # Models only in its task's project, for its own task.
    _forbidden(me.post("/api/v1/models", json={"name": "m", "project": aw.PROJECT_B}))
    _forbidden(me.post("/api/v1/models", json={"name": "m", "task_id": t, "project": "team-c"}))
    _forbidden(me.post("/api/v1/models", json={"name": "m", "task_id": world.task}))
    # No new tasks, projects, queues, keys; no lifecycle moves of its own task.
    _forbidden(me.post("/api/v1/tasks", json={"name": "n", "project": aw.PROJECT_A}))
    _forbidden(me.post("/api/v1/projects", json={"name": "team-c"}))
    _forbidden(me.post("/api/v1/queues", json={"name": "q-by-key"}))
    _forbidden(me.post("/api/v1/tokens", json={"name": "escape"}))
    _forbidden(me.post(f"/api/v1/tasks/{t}/clone", json={}))
    _forbidden(me.post(f"/api/v1/workers/{WORKER}/heartbeat", json={"task_id": t}))
    with aw.api_client(world, world.keys["root"]) as root:
        assert ok(root.get(f"/api/v1/models/{world.model}"))["comment"] != "planted"
        assert ok(root.get(f"/api/v1/tasks/{world.task}"))["comment"] == aw.A_COMMENT


def test_the_key_dies_with_its_task(world: World, dispatched: Dispatched) -> None:
    me, t = dispatched.client, dispatched.task_id
    ok(me.get(f"/api/v1/tasks/{t}"))
    with aw.api_client(world, world.keys["agent"]) as agent:
        ok(agent.patch(f"/api/v1/tasks/{t}", json={"status": "completed"}))
    answer = me.get(f"/api/v1/tasks/{t}")
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "unauthorized"


def test_the_key_dies_with_its_worker(world: World, dispatched: Dispatched) -> None:
    with aw.api_client(world, world.keys["agent"]) as agent:
        assert agent.delete(f"/api/v1/workers/{WORKER}").status_code == 204
    assert dispatched.client.get(f"/api/v1/tasks/{dispatched.task_id}").status_code == 401


# --- POST /models checks the project it writes to --------------------------------------------


def test_a_model_of_ones_own_task_cannot_be_planted_in_another_project(world: World) -> None:
    with (
        aw.api_client(world, world.keys["owner-a"]) as owner_a,
        aw.api_client(world, world.keys["owner-b"]) as owner_b,
    ):
        body = {"name": "PLANTED-MODEL", "task_id": world.task, "project": aw.PROJECT_B}
        _forbidden(owner_a.post("/api/v1/models", json=body))
        newest = ok(owner_b.get("/api/v1/models", params={"project": aw.PROJECT_B}))["items"]
        assert "PLANTED-MODEL" not in [m["name"] for m in newest]
        # Into a project of its own it still goes (a new sub-project of team-a included).
        sub = f"{aw.PROJECT_A}/models-here"
        made = ok(owner_a.post("/api/v1/models", json={**body, "project": sub}), 201)
        assert made["project"]["name"] == sub


def test_a_worker_puts_models_only_in_its_tasks_project(world: World) -> None:
    running = world.running_task
    with aw.api_client(world, world.keys["agent"]) as agent:
        for project in (aw.PROJECT_B, f"{aw.PROJECT_A}/{aw.A_SUBPROJECT}", "elsewhere"):
            body = {"name": "w-model", "task_id": running, "project": project}
            _forbidden(agent.post("/api/v1/models", json=body))
        _forbidden(agent.post("/api/v1/models", json={"name": "w", "project": aw.PROJECT_A}))
        made = ok(
            agent.post(
                "/api/v1/models",
                json={"name": "w-model", "task_id": running, "project": aw.PROJECT_A},
            ),
            201,
        )
        assert made["project"]["name"] == aw.PROJECT_A

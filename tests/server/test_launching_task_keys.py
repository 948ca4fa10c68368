"""The key of a task of type optimizer or controller, on a real server asking for login
(SQLite and PostgreSQL, ``tests.server.access_world``).

Such a task's code launches other tasks (an optimizer run by an agent clones its base task
per trial, sets the trial's values, enqueues and stops it): its key may clone, edit, enqueue
and stop the tasks of its own project, as its owner could, and nothing beyond that.
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

QUEUE = "launch-queue"
WORKER = "w-launch"


@dataclass
class Dispatched:
    task_id: str
    client: httpx.Client  # the task key's


@pytest.fixture
def optimizer_key(world: World) -> Iterator[Dispatched]:
    """An optimizer task of team-a enqueued by owner-a and taken by the worker: its key."""
    yield from _dispatched(world, "optimizer")


@pytest.fixture
def training_key(world: World) -> Iterator[Dispatched]:
    yield from _dispatched(world, "training")


def _dispatched(world: World, task_type: str) -> Iterator[Dispatched]:
    with (
        aw.api_client(world, world.keys["owner-a"]) as owner_a,
        aw.api_client(world, world.keys["agent"]) as agent,
    ):
        body = {"name": f"{task_type} run", "project": aw.PROJECT_A, "type": task_type}
        task_id = ok(owner_a.post("/api/v1/tasks", json=body), 201)["id"]
        ok(owner_a.post(f"/api/v1/tasks/{task_id}/enqueue", json={"queue": QUEUE}))
        ok(agent.post("/api/v1/workers", json={"id": WORKER, "queues": [QUEUE]}))
        taken = ok(agent.post(f"/api/v1/workers/{WORKER}/next", json={"timeout": 0}))["task"]
        assert taken["id"] == task_id
        with aw.api_client(world, taken["task_key"]) as client:
            yield Dispatched(task_id, client)
        agent.patch(f"/api/v1/tasks/{task_id}", json={"status": "completed"})
        agent.delete(f"/api/v1/workers/{WORKER}")


def _forbidden(answer: httpx.Response) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "forbidden"


def test_an_optimizers_key_clones_edits_enqueues_and_stops_trials_in_its_project(
    world: World, optimizer_key: Dispatched
) -> None:
    me = optimizer_key.client
    trial = ok(me.post(f"/api/v1/tasks/{world.task}/clone", json={"name": "trial 1"}), 201)
    params = {"Args": {"lr": {"value": "0.1", "type": "float", "description": ""}}}
    ok(me.put(f"/api/v1/tasks/{trial['id']}/hyperparameters", json=params))
    ok(me.patch(f"/api/v1/tasks/{trial['id']}", json={"tags": ["optimizer:x"]}))
    ok(me.post(f"/api/v1/tasks/{trial['id']}/enqueue", json={"queue": "trials-queue"}))
    ok(me.post(f"/api/v1/tasks/{trial['id']}/stop", json={}))
    _forbidden(me.delete(f"/api/v1/tasks/{trial['id']}"))
    with aw.api_client(world, world.keys["owner-a"]) as owner_a:
        seen = ok(owner_a.get(f"/api/v1/tasks/{trial['id']}"))
        assert seen["project"]["name"] == aw.PROJECT_A and seen["tags"] == ["optimizer:x"]
        assert seen["hyperparameters"]["Args"]["lr"]["type"] == "float"
        assert seen["status"] == "stopped"
        owner_a.delete(f"/api/v1/tasks/{trial['id']}")


def test_an_optimizers_key_stays_in_its_project_and_off_its_own_lifecycle(
    world: World, optimizer_key: Dispatched
) -> None:
    me, own = optimizer_key.client, optimizer_key.task_id
    _forbidden(me.post(f"/api/v1/tasks/{world.task_b}/clone", json={}))
    _forbidden(me.post(f"/api/v1/tasks/{world.task}/clone", json={"project": aw.PROJECT_B}))
    _forbidden(me.post("/api/v1/tasks", json={"name": "n", "project": aw.PROJECT_B}))
    _forbidden(me.patch(f"/api/v1/tasks/{world.task_b}", json={"comment": "planted"}))
    _forbidden(me.post(f"/api/v1/tasks/{world.task_b}/enqueue", json={"queue": QUEUE}))
    for action in ("clone", "enqueue", "reset", "publish"):
        _forbidden(me.post(f"/api/v1/tasks/{own}/{action}", json={}))
    _forbidden(me.post("/api/v1/projects", json={"name": "team-c"}))
    _forbidden(me.post("/api/v1/tokens", json={"name": "escape"}))
    assert me.get("/").status_code == 403


def test_a_training_tasks_key_cannot_make_its_task_an_optimizer(
    world: World, training_key: Dispatched
) -> None:
    me, own = training_key.client, training_key.task_id
    for task_type in ("optimizer", "controller"):
        _forbidden(me.patch(f"/api/v1/tasks/{own}", json={"type": task_type}))
    _forbidden(me.post(f"/api/v1/tasks/{world.task}/clone", json={}))
    ok(me.patch(f"/api/v1/tasks/{own}", json={"type": "testing"}))  # any other type: its own

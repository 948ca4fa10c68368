"""The three writes every run makes (create, scalar frame, the PATCH that ends it) are
answered by ``server.hot_writes`` without FastAPI's request handling: the same answers as
their routes, and anything but a plain success answered by the route itself."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from tests.event_loop import run_coroutine
from tunelab.domain.scalar_wire import (
    FRAME_CONTENT_TYPE,
    encode_frame,
    pack_floats_raw,
    pack_ints_raw,
)
from tunelab.server.api import scalars as scalar_routes
from tunelab.server.api import tasks as task_routes
from tunelab.server.app import create_app
from tunelab.server.hot_writes import HotWrites
from tunelab.server.settings import ServerSettings

PARAMS = {"Args": {"lr": {"value": "0.1", "type": "float"}, "opt": {"value": "adam"}}}
# What differs between two tasks made alike: their ids and times.
VOLATILE = {"id", "created", "started", "completed", "last_update", "last_active"}


def frame(points: int = 3) -> bytes:
    its = list(range(points))
    series = {
        "metric": "loss",
        "variant": "train",
        "iterations": pack_ints_raw(its),
        "values": pack_floats_raw([1.0 / (i + 1) for i in its]),
        "timestamps": pack_floats_raw([1.7e9 + i for i in its]),
    }
    return encode_frame(uuid.uuid4().hex, [series])


def steady(task: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in task.items() if key not in VOLATILE}


def three_writes(client: httpx.Client, query: str = "") -> list[httpx.Response]:
    """Create, post a frame, complete; ``query`` (``?…``) sends each to its route."""
    body = {"name": "hot", "project": "hot/writes", "status": "running", "hyperparameters": PARAMS}
    created = client.post(f"/tasks{query}", json=body)
    task_id = created.json()["id"]
    posted = client.post(
        f"/tasks/{task_id}/scalars/frame{query}",
        content=frame(),
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    )
    ended = client.patch(f"/tasks/{task_id}{query}", json={"status": "completed"})
    return [created, posted, ended]


def test_the_answers_are_the_routes_answers(client: httpx.Client) -> None:
    hot, routed = three_writes(client), three_writes(client, "?via=route")
    for fast, slow in zip(hot, routed, strict=True):
        assert fast.status_code == slow.status_code
        assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
        assert steady(fast.json()) == steady(slow.json())
    assert [r.status_code for r in hot] == [201, 200, 200]
    assert hot[1].json() == {"stored": 3, "duplicate": 0}
    task = client.get(f"/tasks/{hot[0].json()['id']}").json()
    assert task["status"] == "completed" and task["hyperparameters"]["Args"]["lr"]["value"] == "0.1"
    series = client.get(f"/tasks/{task['id']}/scalars").json()
    assert series["metrics"]["loss"]["train"]["y"] == [1.0, 0.5, 1.0 / 3]


def test_refusals_are_the_routes_own(client: httpx.Client) -> None:
    missing = uuid.uuid4().hex
    bad = client.post("/tasks", json={"name": "no project"})
    assert (
        bad.status_code == 400 and bad.json()["error"]["message"] == "body.project: Field required"
    )
    not_json = client.post(
        "/tasks", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert not_json.json()["error"]["message"] == "the request body is not valid JSON"
    gone = client.patch(f"/tasks/{missing}", json={"status": "completed"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    unknown = client.post(
        f"/tasks/{missing}/scalars/frame",
        content=frame(),
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    )
    assert unknown.status_code == 404
    task_id = three_writes(client)[0].json()["id"]
    # Ended: a second end is the lifecycle's refusal, and the task keeps what it had.
    again = client.patch(f"/tasks/{task_id}", json={"status": "running"})
    assert again.status_code == 409, again.text
    assert client.get(f"/tasks/{task_id}").json()["status"] == "completed"
    cross_site = client.post(
        "/tasks",
        json={"name": "x", "project": "hot/writes"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403


class Routes:
    """The app's routes, counting what reaches them."""

    def __init__(self, app: Any) -> None:
        self.app, self.reached = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached += 1
        await self.app(scope, receive, send)


def test_the_lanes_answer_without_the_routes(tmp_path: Path) -> None:
    app = create_app(ServerSettings.from_env(data_dir=tmp_path / "data"))
    routes = Routes(app)  # the whole app: what reaches it, the routes answer
    hot = HotWrites(routes)

    async def server(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # what Starlette sets before its middlewares
        await hot(scope, receive, send)

    async def writes() -> tuple[list[int], int, int]:
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
            body = {"name": "a", "project": "hot", "hyperparameters": PARAMS}
            created = await client.post("/tasks", json=body)
            task_id = created.json()["id"]
            framed = await client.post(
                f"/tasks/{task_id}/scalars/frame",
                content=frame(),
                headers={"Content-Type": FRAME_CONTENT_TYPE},
            )
            ended = await client.patch(f"/tasks/{task_id}", json={"comment": "done"})
            statuses = [created.status_code, framed.status_code, ended.status_code]
            by_lanes = routes.reached
            read = await client.get(f"/tasks/{task_id}")
            assert read.json()["comment"] == "done"
            return statuses, by_lanes, routes.reached

    statuses, by_lanes, after_read = run_coroutine(writes())
    assert statuses == [201, 200, 200]
    assert by_lanes == 0  # none of the three reached the routes
    assert after_read == 1  # anything else does


def test_each_lane_takes_only_the_route_fastapi_would_choose(tmp_path: Path) -> None:
    app = create_app(ServerSettings.from_env(data_dir=tmp_path / "data"))
    lanes = [
        ("POST", "/api/v1/tasks", task_routes.create_task),
        ("PATCH", "/api/v1/tasks/abc", task_routes.update_task),
        ("POST", "/api/v1/tasks/abc/scalars/frame", scalar_routes.post_scalar_frame),
    ]
    for method, path, endpoint in lanes:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        chosen = next(r for r in app.router.routes if r.matches(scope)[0] is Match.FULL)
        assert getattr(chosen, "endpoint", None) is endpoint, (method, path)
    # No other route would take a path the lanes take: a fixed segment where the lanes see
    # a task id (``PATCH /tasks/batch``, say) would be answered by the wrong code.
    for route in app.router.routes:
        path = getattr(route, "path", "")
        methods = getattr(route, "methods", None) or set()
        taken = (
            "PATCH" in methods and path.count("/") == 4 and path.startswith("/api/v1/tasks/")
        ) or (
            "POST" in methods
            and path.startswith("/api/v1/tasks/")
            and path.endswith("/scalars/frame")
        )
        if taken:
            assert path in ("/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}/scalars/frame"), (
                path
            )

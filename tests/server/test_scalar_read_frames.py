"""A scalar read answered as a binary frame (``Accept: application/vnd.tunelab.scalar-frame``)
holds exactly what the JSON answer holds; the SDK asks for it."""

from __future__ import annotations

import math
import uuid
from typing import Any

import httpx
import numpy as np
import pytest

from tests.server.test_scalars_api import create_task, wire
from tunelab import Task
from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, split_frame
from tunelab.sdk.transport import ApiClient

FRAME = {"Accept": FRAME_CONTENT_TYPE}


def decoded(raw: bytes) -> dict[str, Any]:
    """The frame with numpy, turned into the JSON answer's shape (non-finite as None)."""
    header, body = split_frame(raw)
    assert (len(raw) - len(body)) % 8 == 0  # the arrays start 8-byte aligned
    tasks: dict[str, Any] = {
        tid: {"metrics": {}, "cursor": c} for tid, c in header["cursors"].items()
    }
    offset = 0
    for s in header["series"]:
        n = s["count"]
        x = np.frombuffer(body, "<i8", n, offset)
        y = np.frombuffer(body, "<f8", n, offset + 8 * n)
        t = np.frombuffer(body, "<f8", n, offset + 16 * n)
        offset += 24 * n
        tasks[s["task"]]["metrics"].setdefault(s["metric"], {})[s["variant"]] = {
            "x": x.tolist(),
            "y": [v if math.isfinite(v) else None for v in y.tolist()],
            "t": t.tolist(),
            "total": s["total"],
            "downsampled": s["downsampled"],
        }
    assert offset == len(body)
    return {"tasks": tasks, "cursor": header["cursor"]}


def post_points(client: httpx.Client, task_id: str) -> None:
    its = [*range(0, 3000, 3), 2**40]
    vals = [*(math.sin(i) for i in range(len(its) - 3)), math.nan, math.inf, -1e308]
    batch = {"series": [wire("loss", "train", its, vals), wire("acc", "val", [7], [0.5])]}
    assert client.post(f"/tasks/{task_id}/scalars", json=batch).status_code == 200


@pytest.mark.parametrize(
    "query",
    [{"max_points": 0}, {"max_points": 50}, {"max_points": 0, "metric": "loss"}],
)
def test_a_task_read_as_a_frame_equals_its_json(client: httpx.Client, query: Any) -> None:
    task_id = create_task(client)
    post_points(client, task_id)
    as_json = client.get(f"/tasks/{task_id}/scalars", params=query)
    as_frame = client.get(f"/tasks/{task_id}/scalars", params=query, headers=FRAME)
    assert as_json.headers["content-type"] == "application/json"
    assert as_frame.headers["content-type"] == FRAME_CONTENT_TYPE
    assert decoded(as_frame.content)["tasks"][task_id] == as_json.json()


def test_an_incremental_read_and_several_tasks_as_frames(client: httpx.Client) -> None:
    first, second, empty = create_task(client), create_task(client), create_task(client)
    post_points(client, first)
    post_points(client, second)
    cursor = client.get(f"/tasks/{first}/scalars", headers=FRAME)
    after = split_frame(cursor.content)[0]["cursor"]
    client.post(f"/tasks/{first}/scalars", json={"series": [wire("loss", "train", [5], [1.0])]})
    news = client.get(f"/tasks/{first}/scalars", params={"after": after}, headers=FRAME)
    json_news = client.get(f"/tasks/{first}/scalars", params={"after": after}).json()
    assert decoded(news.content)["tasks"][first] == json_news
    assert json_news["metrics"] == {
        "loss": {"train": {"x": [5], "y": [1.0], "t": [1.7e9], "total": 1, "downsampled": False}}
    }

    query = {"task": [first, second, empty], "max_points": 100}
    as_json = client.get("/scalars", params=query).json()
    as_frame = client.get("/scalars", params=query, headers=FRAME)
    assert decoded(as_frame.content) == as_json
    assert as_json["tasks"][empty] == {"metrics": {}, "cursor": 0}


def test_a_refused_frame_read_is_the_json_error(client: httpx.Client) -> None:
    missing = client.get(f"/tasks/{uuid.uuid4().hex}/scalars", headers=FRAME)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = client.get(f"/tasks/{create_task(client)}/scalars?max_points=-1", headers=FRAME)
    assert bad.status_code == 400 and "error" in bad.json()


def test_the_sdk_reads_frames(client: httpx.Client, api_url: str) -> None:
    task_id = create_task(client)
    post_points(client, task_id)
    seen: list[str] = []
    hook = {"response": [lambda r: seen.append(r.headers["content-type"])]}
    with httpx.Client(event_hooks=hook) as http:
        data = ApiClient(api_url, http=http).get_scalars(task_id, max_points=0)
    assert seen == [FRAME_CONTENT_TYPE]
    assert data == client.get(f"/tasks/{task_id}/scalars", params={"max_points": 0}).json()

    task = Task.get_task(task_id=task_id)
    full = task.get_reported_scalars()
    assert full["loss"]["train"]["x"] == data["metrics"]["loss"]["train"]["x"]
    assert full["loss"]["train"]["y"][-3:] == [None, None, -1e308]
    assert full["acc"]["val"] == {"x": [7], "y": [0.5]}
    few = task.get_reported_scalars(max_samples=10)
    assert 2 <= len(few["loss"]["train"]["x"]) <= 20
    assert few["loss"]["train"]["x"][-1] == 2**40

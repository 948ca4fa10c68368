"""The lifecycle routes on a real server process: each action, its 409s, and ``force``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.server.answers import ok

UNKNOWN = "0" * 32


@pytest.fixture
def project() -> str:
    return f"life-{uuid.uuid4().hex[:12]}"


def conflict(response: httpx.Response, message: str) -> dict[str, Any]:
    """A 409 in the one error envelope, whose message says ``message``."""
    assert response.status_code == 409, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == "conflict"
    assert message in body["error"]["message"], body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def create(client: httpx.Client, project: str, **body: Any) -> dict[str, Any]:
    body = {
        "name": "base",
        "project": project,
        "execution": {"repository": "https://example.com/r.git", "diff": "+x"},
        "hyperparameters": {"Args": {"lr": {"value": "0.1", "type": "float"}}},
        **body,
    }
    task: dict[str, Any] = ok(client.post("/tasks", json=body), 201)
    return task


def action(client: httpx.Client, task_id: str, name: str, **body: Any) -> httpx.Response:
    return client.post(f"/tasks/{task_id}/{name}", json=body)


def test_clone_edit_enqueue_dequeue(client: httpx.Client, project: str) -> None:
    source = create(client, project, status="running")
    assert (source["queue"], source["worker"], source["stop_requested"]) == (None, None, False)
    clone = ok(action(client, source["id"], "clone", project=f"{project}/tuned"), 201)
    assert clone["status"] == "draft" and clone["name"] == "Clone Of base"
    assert clone["parent"] == source["id"]
    assert clone["project"]["name"] == f"{project}/tuned"
    assert clone["hyperparameters"] == source["hyperparameters"]
    assert clone["execution"]["diff"] == "+x"
    edited = ok(
        client.patch(
            f"/tasks/{clone['id']}/hyperparameters", json={"Args": {"lr": {"value": "0.5"}}}
        )
    )
    assert edited["hyperparameters"]["Args"]["lr"]["value"] == "0.5"
    queue = f"q-{uuid.uuid4().hex[:8]}"
    queued = ok(action(client, clone["id"], "enqueue", queue=queue))
    assert (queued["status"], queued["queue"]) == ("queued", queue)
    assert (
        ok(client.get("/tasks", params={"project": project, "status": "queued"}))["items"][0][
            "queue"
        ]
        == queue
    )
    conflict(
        client.patch(
            f"/tasks/{clone['id']}/hyperparameters", json={"Args": {"lr": {"value": "1"}}}
        ),
        "cannot edit the inputs of a queued task",
    )
    back = ok(action(client, clone["id"], "dequeue"))
    assert (back["status"], back["queue"]) == ("draft", None)
    assert ok(client.get(f"/queues/{queue}/entries"))["items"] == []


def test_refusals_are_409s_naming_the_status(client: httpx.Client, project: str) -> None:
    draft = create(client, project)
    error = conflict(action(client, draft["id"], "publish"), "cannot publish a draft task")
    assert error["detail"] == {"status": "draft"}
    conflict(action(client, draft["id"], "dequeue"), "cannot dequeue a draft task")
    conflict(action(client, draft["id"], "stop"), "cannot stop a draft task")
    running = create(client, project, status="running")
    conflict(action(client, running["id"], "reset"), "running one must be stopped first")
    conflict(action(client, running["id"], "archive"), "cannot archive a running task")
    conflict(client.delete(f"/tasks/{running['id']}"), "cannot delete a running task")
    conflict(
        client.patch(f"/tasks/{draft['id']}", json={"status": "queued"}),
        "a draft task cannot become queued",
    )
    # A refused request changes nothing.
    assert ok(client.get(f"/tasks/{draft['id']}")) == draft
    assert ok(client.get(f"/tasks/{running['id']}"))["status"] == "running"


def test_stop_reset_publish_archive_delete(client: httpx.Client, project: str) -> None:
    running = create(client, project, status="running")
    asked = ok(action(client, running["id"], "stop", reason="enough"))
    assert (asked["status"], asked["stop_requested"]) == ("running", True)
    assert asked["status_reason"] == "enough"
    stopped = ok(client.patch(f"/tasks/{running['id']}", json={"status": "stopped"}))
    assert stopped["completed"] is not None
    reset = ok(action(client, running["id"], "reset", delete_artifacts=True))
    assert (reset["status"], reset["started"], reset["stop_requested"]) == ("draft", None, False)
    assert (reset["deleted_files"], reset["failed_files"]) == ([], [])
    assert reset["hyperparameters"] == running["hyperparameters"]
    queued = ok(action(client, running["id"], "enqueue"))
    assert queued["queue"] == "default"
    stopped_at_once = ok(action(client, running["id"], "stop"))
    assert (stopped_at_once["status"], stopped_at_once["queue"]) == ("stopped", None)
    published = ok(action(client, running["id"], "publish"))
    assert published["status"] == "published"
    archived = ok(action(client, running["id"], "archive"))
    assert archived["archived"] is True
    conflict(client.delete(f"/tasks/{running['id']}"), "a published one never")
    assert ok(action(client, running["id"], "unarchive"))["archived"] is False

    draft = create(client, project)
    answer = ok(client.delete(f"/tasks/{draft['id']}"))
    assert answer == {"deleted": draft["id"], "deleted_files": [], "failed_files": []}
    assert client.get(f"/tasks/{draft['id']}").status_code == 404


def test_start_runs_a_draft_on_a_worker(client: httpx.Client, project: str) -> None:
    draft = create(client, project)
    worker = f"cli-{uuid.uuid4().hex[:8]}"
    started = ok(action(client, draft["id"], "start", worker=worker))
    assert (started["status"], started["worker"]) == ("running", worker)
    assert started["started"] is not None
    conflict(action(client, draft["id"], "start", worker=worker), "cannot start a running task")
    assert any(w["id"] == worker for w in ok(client.get("/workers"))["items"])


def test_force_lets_the_running_task_record_its_inputs(client: httpx.Client, project: str) -> None:
    running = create(client, project, status="running")
    params = {"General": {"batch": {"value": "32", "type": "int"}}}
    path = f"/tasks/{running['id']}/hyperparameters"
    conflict(client.patch(path, json=params), "cannot edit the inputs of a running task")
    stored = ok(client.patch(path, json=params, params={"force": "true"}))
    assert stored["hyperparameters"]["General"]["batch"]["value"] == "32"
    patched = ok(
        client.patch(
            f"/tasks/{running['id']}",
            json={"execution": {"commit": "c9"}},
            params={"force": "true"},
        )
    )
    assert patched["execution"]["commit"] == "c9"
    # User properties need no force, in any status but published.
    props = ok(client.put(f"/tasks/{running['id']}/user_properties", json={"o": {"value": "a"}}))
    assert props["user_properties"]["o"]["value"] == "a"
    ok(client.patch(f"/tasks/{running['id']}", json={"status": "completed"}))
    conflict(
        client.patch(path, json=params, params={"force": "true"}),
        "cannot edit the inputs of a completed task",
    )


def test_unknown_tasks_and_bad_bodies(client: httpx.Client, project: str) -> None:
    for name in ("clone", "reset", "enqueue", "dequeue", "stop", "publish", "archive"):
        assert action(client, UNKNOWN, name).status_code == 404, name
    assert client.delete(f"/tasks/{UNKNOWN}").status_code == 404
    known = create(client, project)["id"]
    invalid = client.post(f"/tasks/{known}/clone", json={"nmae": "typo"})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_input"
    bad_queue = client.post(f"/tasks/{known}/enqueue", json={"queue": ""})
    assert bad_queue.status_code == 400


def test_names_change_until_published_tags_and_comments_always(
    client: httpx.Client, project: str
) -> None:
    task = create(client, project, status="running")
    for status in ("running", "completed"):
        if status != task["status"]:
            task = ok(client.patch(f"/tasks/{task['id']}", json={"status": status}))
        renamed = ok(client.patch(f"/tasks/{task['id']}", json={"name": f"run while {status}"}))
        assert renamed["name"] == f"run while {status}"
    ok(action(client, task["id"], "publish"))
    error = conflict(
        client.patch(f"/tasks/{task['id']}", json={"name": "late"}), "cannot rename a published"
    )
    assert error["detail"] == {"status": "published"}
    # Sending the name it has is no change, so a whole-record PATCH still passes.
    same = {"name": "run while completed", "tags": ["best"], "comment": "kept for the paper"}
    annotated = ok(client.patch(f"/tasks/{task['id']}", json=same))
    assert (annotated["name"], annotated["tags"], annotated["comment"]) == (
        "run while completed",
        ["best"],
        "kept for the paper",
    )

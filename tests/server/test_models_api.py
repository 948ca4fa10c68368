"""The model registry and a task's input model on a real server process."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.answers import ok
from tests.server.test_lifecycle_api import UNKNOWN, action, conflict, create

DIGEST = "12" * 32
MODEL_KEYS = {
    "id",
    "name",
    "project",
    "task_id",
    "framework",
    "uri",
    "config_text",
    "labels",
    "tags",
    "comment",
    "published",
    "archived",
    "size",
    "sha256",
    "created",
    "last_update",
}


@pytest.fixture
def project() -> str:
    return f"reg-{uuid.uuid4().hex[:12]}"


def register(client: httpx.Client, **body: Any) -> dict[str, Any]:
    model: dict[str, Any] = ok(client.post("/models", json={"name": "m", **body}), 201)
    return model


def invalid(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "invalid_input"
    return error


def test_register_change_publish(client: httpx.Client, project: str) -> None:
    task = create(client, project, status="running")
    model = register(
        client,
        name="resnet",
        task_id=task["id"],
        framework="PyTorch",
        uri="s3://bucket/resnet.pt",
        config_text="depth: 18",
        labels={"cat": 0, "dog": 1},
        tags=["v1"],
        size=10,
        sha256=DIGEST,
    )
    assert set(model) == MODEL_KEYS
    assert model["project"] == task["project"] and model["task_id"] == task["id"]
    assert (model["labels"], model["tags"], model["published"]) == (
        {"cat": 0, "dog": 1},
        ["v1"],
        False,
    )
    assert ok(client.get(f"/models/{model['id']}")) == model
    outputs = ok(client.get(f"/tasks/{task['id']}"))["output_models"]
    assert outputs == [
        {
            "id": model["id"],
            "name": "resnet",
            "uri": "s3://bucket/resnet.pt",
            "framework": "PyTorch",
            "published": False,
        }
    ]
    changed = ok(client.patch(f"/models/{model['id']}", json={"uri": "s3://b/2.pt", "size": None}))
    assert (changed["uri"], changed["size"], changed["name"]) == ("s3://b/2.pt", None, "resnet")
    published = ok(client.post(f"/models/{model['id']}/publish"))
    assert published["published"] is True
    assert ok(client.post(f"/models/{model['id']}/publish")) == published
    error = conflict(
        client.patch(f"/models/{model['id']}", json={"labels": {}}),
        "is published: it is read-only except its tags and comment",
    )
    assert error["detail"] == {"published": True}
    assert ok(client.get(f"/models/{model['id']}")) == published
    annotated = ok(
        client.patch(f"/models/{model['id']}", json={"tags": ["best", "v1"], "comment": "ship"})
    )
    assert (annotated["tags"], annotated["comment"]) == (["best", "v1"], "ship")


def test_project_defaults(client: httpx.Client, project: str) -> None:
    assert register(client)["project"]["name"] == "Default"
    placed = register(client, project=f"{project}/zoo")
    assert placed["project"]["name"] == f"{project}/zoo"
    assert ok(client.get("/projects", params={"parent": project}))["items"][0]["name"] == (
        f"{project}/zoo"
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "m", "nmae": "typo"},
        {"name": "m", "labels": {"cat": "0"}},
        {"name": "m", "labels": {"cat": 1.5}},
        {"name": "m", "labels": {"cat": True}},
        {"name": "m", "size": -1},
        {"name": "m", "sha256": "abc"},
        {"name": "m", "tags": [""]},
        {"name": "m", "tags": "a"},
        {"name": "m", "project": "a//b"},
        {"name": "m", "published": True},
        {"name": 5},
    ],
)
def test_bad_bodies_are_400s_and_register_nothing(
    client: httpx.Client, project: str, body: dict[str, Any]
) -> None:
    marker = f"bad-{uuid.uuid4().hex}"
    invalid(client.post("/models", json={**body, "comment": marker}))
    assert ok(client.get("/models", params={"search": marker}))["total"] == 0
    model = register(client, project=project)
    changes = {k: v for k, v in body.items() if k not in ("project", "name")} or {"name": ""}
    invalid(client.patch(f"/models/{model['id']}", json=changes))
    assert ok(client.get(f"/models/{model['id']}")) == model


def test_an_output_of_a_published_or_unknown_task_is_refused(
    client: httpx.Client, project: str
) -> None:
    task = create(client, project, status="running")
    ok(client.patch(f"/tasks/{task['id']}", json={"status": "completed"}))
    ok(action(client, task["id"], "publish"))
    conflict(
        client.post("/models", json={"name": "late", "task_id": task["id"]}),
        "cannot edit the outputs of a published task",
    )
    assert client.post("/models", json={"name": "m", "task_id": UNKNOWN}).status_code == 404
    assert ok(client.get("/models", params={"project": project}))["total"] == 0


def test_unknown_models_are_404s(client: httpx.Client) -> None:
    for model_id in (UNKNOWN, "nope"):
        assert client.get(f"/models/{model_id}").status_code == 404
        assert client.patch(f"/models/{model_id}", json={"comment": ""}).status_code == 404
        assert client.post(f"/models/{model_id}/publish").status_code == 404
        response = client.delete(f"/models/{model_id}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_nul_in_a_model_id_is_refused_before_any_lookup(client: httpx.Client) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        body = {"comment": ""} if method == "PATCH" else None
        response = client.request(method, "/models/a%00b", json=body)
        assert response.status_code == 400, (method, response.text)
        assert response.json()["error"]["code"] == "invalid_input"


def test_input_model_on_drafts_unless_forced(client: httpx.Client, project: str) -> None:
    model = register(client, name="base", uri="s3://b/base.pt", framework="Keras")
    draft = create(client, project)
    route = f"/tasks/{draft['id']}/input_model"
    task = ok(client.put(route, json={"model_id": model["id"]}))
    assert task["input_model"] == {
        "id": model["id"],
        "name": "base",
        "uri": "s3://b/base.pt",
        "framework": "Keras",
    }
    clone = ok(action(client, draft["id"], "clone"), 201)
    assert clone["input_model"] == task["input_model"]
    assert ok(client.put(route, json={"model_id": None}))["input_model"] is None

    running = create(client, project, status="running")
    route = f"/tasks/{running['id']}/input_model"
    conflict(client.put(route, json={"model_id": model["id"]}), "inputs of a running task")
    forced = ok(client.put(route, json={"model_id": model["id"]}, params={"force": "true"}))
    assert forced["input_model"]["id"] == model["id"]
    ok(client.patch(f"/tasks/{running['id']}", json={"status": "completed"}))
    conflict(
        client.put(route, json={"model_id": None}, params={"force": "true"}),
        "inputs of a completed task",
    )
    assert client.put(route, json={"model_id": UNKNOWN}).status_code == 404
    assert client.put(f"/tasks/{UNKNOWN}/input_model", json={"model_id": None}).status_code == 404
    invalid(client.put(route, json={}))
    invalid(client.put(route, json={"model_id": None, "force": True}))
    invalid(client.put(route, json={"model_id": 5}))
    assert ok(client.get(f"/tasks/{running['id']}"))["input_model"]["id"] == model["id"]


def test_delete_refused_while_in_use(client: httpx.Client, project: str, tmp_path: Path) -> None:
    weights = tmp_path / "base.pt"
    weights.write_bytes(b"w")
    model = register(client, name="base", uri=f"file://{weights}")
    draft = create(client, project, name="user")
    ok(client.put(f"/tasks/{draft['id']}/input_model", json={"model_id": model["id"]}))
    error = conflict(
        client.delete(f"/models/{model['id']}", params={"delete_file": "true"}),
        f"is the input model of task {draft['id']} ('user')",
    )
    assert error["detail"] == {"task_id": draft["id"]}
    assert weights.exists() and ok(client.get(f"/models/{model['id']}")) == model
    ok(client.put(f"/tasks/{draft['id']}/input_model", json={"model_id": None}))
    answer = ok(client.delete(f"/models/{model['id']}", params={"delete_file": "true"}))
    assert answer == {
        "deleted": model["id"],
        "deleted_files": [f"file://{weights}"],
        "failed_files": [],
    }
    assert not weights.exists()
    assert client.get(f"/models/{model['id']}").status_code == 404


def test_delete_keeps_the_file_unless_asked(client: httpx.Client, tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"w")
    kept = register(client, uri=f"file://{weights}")
    assert ok(client.delete(f"/models/{kept['id']}")) == {
        "deleted": kept["id"],
        "deleted_files": [],
        "failed_files": [],
    }
    assert weights.exists()
    odd = register(client, uri="bogus://x/y")
    answer = ok(client.delete(f"/models/{odd['id']}", params={"delete_file": "true"}))
    assert answer["deleted_files"] == []
    assert [f["uri"] for f in answer["failed_files"]] == ["bogus://x/y"]
    assert client.get(f"/models/{odd['id']}").status_code == 404


def test_listing(client: httpx.Client, project: str) -> None:
    task = create(client, project, status="running")
    register(client, name="alpha", project=project, framework="PyTorch", tags=["a", "b"])
    register(client, name="Beta", project=f"{project}/cv", framework="PyTorch", tags=["a"])
    gamma = register(client, name="gamma", task_id=task["id"], framework="Keras")
    ok(client.post(f"/models/{gamma['id']}/publish"))

    def names(**query: Any) -> list[str]:
        page = ok(client.get("/models", params={"project": project, **query}))
        return [m["name"] for m in page["items"]]

    assert names() == ["gamma", "Beta", "alpha"], "newest first by default"
    assert names(order_by="name") == ["Beta", "alpha", "gamma"]
    by_framework = names(order_by="-framework")
    assert by_framework[2] == "gamma" and set(by_framework[:2]) == {"alpha", "Beta"}
    assert names(include_subprojects="false", order_by="name") == ["alpha", "gamma"]
    assert names(tag=["a", "b"]) == ["alpha"]
    assert names(tag="a", order_by="created") == ["alpha", "Beta"]
    assert names(framework="Keras") == ["gamma"]
    assert names(published="true") == ["gamma"]
    assert names(published="false", order_by="last_update") == ["alpha", "Beta"]
    assert names(search="BET") == ["Beta"]
    assert names(name="beta") == []
    assert names(task_id=task["id"]) == ["gamma"]
    page = ok(client.get("/models", params={"project": project, "page": 2, "page_size": 2}))
    assert (page["total"], page["page"], page["page_size"]) == (3, 2, 2)
    assert [m["name"] for m in page["items"]] == ["alpha"]
    error = invalid(client.get("/models", params={"order_by": "labels"}))
    assert error["detail"] == {"valid": ["name", "created", "last_update", "framework"]}
    invalid(client.get("/models", params={"page_size": 501}))
    invalid(client.get("/models", params={"page": 0}))
    invalid(client.get("/models", params={"published": "maybe"}))
    invalid(client.get("/models", params={"search": "a\x00"}))
    missing = client.get("/models", params={"project": f"{project}-missing"})
    assert missing.status_code == 404


def test_an_archived_model_is_listed_only_when_asked_for(
    client: httpx.Client, project: str
) -> None:
    model = register(client, name="old", project=project)
    ok(client.post(f"/models/{model['id']}/publish"))
    archived = ok(client.patch(f"/models/{model['id']}", json={"archived": True}))
    assert archived["archived"] is True and archived["published"] is True
    listed = ok(client.get("/models", params={"project": project}))
    assert listed["total"] == 0
    listed = ok(client.get("/models", params={"project": project, "archived": "true"}))
    assert [m["id"] for m in listed["items"]] == [model["id"]]
    invalid(client.patch(f"/models/{model['id']}", json={"archived": None}))

"""The projects and tasks routes on a real server process."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.server.answers import ok


@pytest.fixture
def project() -> str:
    """A project path of this test's own: the server is shared by the whole session."""
    return f"api-{uuid.uuid4().hex[:12]}"


def create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    task: dict[str, Any] = ok(client.post("/tasks", json=body), 201)
    return task


def test_projects_are_created_once_listed_and_described(client: httpx.Client, project: str) -> None:
    made = ok(client.post("/projects", json={"name": f"{project}/cv", "description": "d"}), 201)
    assert made["name"] == f"{project}/cv"
    assert made["description"] == "d"
    assert made["task_count"] == 0
    assert set(made) == {"id", "name", "description", "created", "last_update", "task_count"}
    again = ok(client.post("/projects", json={"name": f"{project}/cv"}), 200)
    assert again["id"] == made["id"]
    create(client, name="t", project=f"{project}/cv/deep")
    children = ok(client.get("/projects", params={"parent": project}))["items"]
    assert [(p["name"], p["task_count"]) for p in children] == [(f"{project}/cv", 1)]
    everything = ok(client.get("/projects"))["items"]
    assert {f"{project}", f"{project}/cv", f"{project}/cv/deep"} <= {p["name"] for p in everything}
    described = ok(client.patch(f"/projects/{made['id']}", json={"description": "vision"}))
    assert described["description"] == "vision"
    assert ok(client.get(f"/projects/{made['id']}")) == described


def test_create_read_and_patch_a_task(client: httpx.Client, project: str) -> None:
    task = create(
        client,
        name="baseline",
        project=project,
        status="running",
        tags=["b", "a"],
        execution={"repository": "https://example.com/r.git", "commit": "c1"},
        runtime={"host": "gpu1", "gpus": ["A100"]},
        hyperparameters={
            "Args": {"lr": {"value": "0.1", "type": "float"}, "opt": {"value": "sgd"}}
        },
        configuration={"model": {"text": "layers: 3"}},
        user_properties={"owner": {"value": "ann"}},
    )
    assert task["project"]["name"] == project
    assert task["hyperparameters"]["Args"]["opt"] == {
        "value": "sgd",
        "type": "str",
        "description": "",
    }
    assert task["status"] == "running"
    assert task["started"] is not None
    assert task["tags"] == ["a", "b"]
    assert ok(client.get(f"/tasks/{task['id']}")) == task

    patched = ok(
        client.patch(
            f"/tasks/{task['id']}",
            json={
                "status": "completed",
                "comment": "done",
                "execution": {"commit": "c2"},
                "last_iteration": 99,
            },
            # The running task's own SDK records its execution: force=true.
            params={"force": "true"},
        )
    )
    assert patched["status"] == "completed"
    assert patched["completed"] is not None
    assert patched["comment"] == "done"
    assert patched["execution"]["repository"] == "https://example.com/r.git"
    assert patched["execution"]["commit"] == "c2"
    assert patched["runtime"]["gpus"] == ["A100"]
    assert patched["last_iteration"] == 99
    assert patched["name"] == "baseline"
    assert ok(client.get(f"/tasks/{task['id']}")) == patched


def test_parameter_values_may_be_sent_as_json_numbers_and_booleans(
    client: httpx.Client, project: str
) -> None:
    task = create(
        client,
        name="t",
        project=project,
        hyperparameters={
            "Args": {
                "lr": {"value": 0.001},
                "epochs": {"value": 10},
                "amp": {"value": True},
                "given": {"value": 3, "type": "str"},
            }
        },
    )
    assert task["hyperparameters"]["Args"] == {
        "lr": {"value": "0.001", "type": "float", "description": ""},
        "epochs": {"value": "10", "type": "int", "description": ""},
        "amp": {"value": "True", "type": "bool", "description": ""},
        "given": {"value": "3", "type": "str", "description": ""},
    }


def test_put_replaces_and_patch_merges_inputs(client: httpx.Client, project: str) -> None:
    task_id = create(client, name="t", project=project)["id"]
    url = f"/tasks/{task_id}"
    put = {"Args": {"lr": {"value": "0.1", "type": "float"}, "bs": {"value": "32"}}}
    assert ok(client.put(f"{url}/hyperparameters", json=put))["hyperparameters"] == {
        "Args": {
            "bs": {"value": "32", "type": "str", "description": ""},
            "lr": {"value": "0.1", "type": "float", "description": ""},
        }
    }
    merged = ok(
        client.patch(
            f"{url}/hyperparameters",
            json={"Args": {"bs": None, "lr": {"value": "0.2"}}, "Other": {"x": {"value": "1"}}},
        )
    )["hyperparameters"]
    assert merged == {
        "Args": {"lr": {"value": "0.2", "type": "str", "description": ""}},
        "Other": {"x": {"value": "1", "type": "str", "description": ""}},
    }
    replaced = ok(client.put(f"{url}/hyperparameters", json={"Other": {}}))["hyperparameters"]
    assert replaced == {}

    config = {"General": {"text": '{"a": 1}'}, "Model": {"text": "x: 1", "type": "yaml"}}
    assert set(ok(client.put(f"{url}/configuration", json=config))["configuration"]) == {
        "General",
        "Model",
    }
    kept = ok(client.patch(f"{url}/configuration", json={"Model": None}))["configuration"]
    assert kept == {"General": {"text": '{"a": 1}', "type": "dictionary", "description": ""}}

    ok(client.put(f"{url}/user_properties", json={"owner": {"value": "alice"}}))
    properties = ok(client.patch(f"{url}/user_properties", json={"team": {"value": "cv"}}))
    assert set(properties["user_properties"]) == {"owner", "team"}
    whole = ok(client.get(url))
    assert whole["configuration"] == kept
    assert whole["user_properties"] == properties["user_properties"]


def test_listing_filters_sorts_and_pages(client: httpx.Client, project: str) -> None:
    ids = {}
    for name, sub, status, tags, lr in [
        ("a", "", "running", ["x", "y"], "0.5"),
        ("b", "/sub", "failed", ["x"], "10"),
        ("c", "/sub", "draft", ["x", "y"], "2"),
        ("d", "", "completed", [], None),
    ]:
        body: dict[str, Any] = {"name": name, "project": project + sub, "status": status}
        body["tags"] = tags
        if lr is not None:
            body["hyperparameters"] = {"Args": {"lr": {"value": lr, "type": "float"}}}
        ids[name] = create(client, **body)["id"]
    ok(client.patch(f"/tasks/{ids['d']}", json={"archived": True}))

    def names(**params: Any) -> list[str]:
        answer = ok(client.get("/tasks", params={"project": project, **params}))
        return [item["name"] for item in answer["items"]]

    assert names(order_by="name") == ["a", "b", "c"]
    assert names(order_by="name", include_subprojects="false") == ["a"]
    assert names(order_by="name", status=["running", "failed"]) == ["a", "b"]
    assert names(order_by="name", tag=["x", "y"]) == ["a", "c"]
    assert names(search="B") == ["b"]
    assert names(archived="true") == ["d"]
    assert sorted(names(archived="all")) == ["a", "b", "c", "d"]
    assert names(order_by="hyperparameters.Args/lr") == ["a", "c", "b"]

    page = ok(
        client.get(
            "/tasks",
            params={"project": project, "order_by": "-hyperparameters.Args/lr", "page_size": 2},
        )
    )
    assert [i["sort_value"] for i in page["items"]] == ["10", "2"]
    assert (page["total"], page["page"], page["page_size"]) == (3, 1, 2)
    assert "execution" not in page["items"][0]
    assert "hyperparameters" not in page["items"][0]
    assert page["items"][0]["project"]["name"] == f"{project}/sub"
    last = ok(
        client.get(
            "/tasks",
            params={
                "project": project,
                "order_by": "-hyperparameters.Args/lr",
                "page_size": 2,
                "page": 2,
            },
        )
    )
    assert [i["name"] for i in last["items"]] == ["a"]

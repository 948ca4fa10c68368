"""ApiClient against a real ``tunelab server`` process: routes, errors rebuilt, no answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.services import free_port
from tunelab.domain.scalar_wire import pack_floats, pack_ints
from tunelab.errors import InvalidInput, NotFound, ServerUnavailable
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _project() -> str:
    return f"sdk-transport/{uuid.uuid4().hex[:8]}"


def test_task_round_trip(client: ApiClient) -> None:
    project = _project()
    task = client.create_task({"name": "baseline", "project": project, "tags": ["a"]})
    assert task["project"]["name"] == project
    assert client.get_task(task["id"])["name"] == "baseline"
    updated = client.update_task(task["id"], comment="hello", tags=["a", "b"])
    assert (updated["comment"], updated["tags"]) == ("hello", ["a", "b"])


def test_list_values_become_repeated_parameters(client: ApiClient) -> None:
    project = _project()
    draft = client.create_task({"name": "one", "project": project})
    running = client.create_task({"name": "two", "project": project, "status": "running"})
    client.create_task({"name": "three", "project": project, "status": "running", "tags": ["x"]})
    both = client.list_tasks(project=project, status=["draft", "running"], order_by="name")
    assert [t["name"] for t in both["items"]] == ["one", "three", "two"]
    only_draft = client.list_tasks(project=project, status=["draft"], include_subprojects=True)
    assert [t["id"] for t in only_draft["items"]] == [draft["id"]]
    untagged = client.list_tasks(project=project, search="two", tag=None)
    assert [t["id"] for t in untagged["items"]] == [running["id"]]


def test_inputs_replace_or_merge(client: ApiClient) -> None:
    task = client.create_task({"name": "inputs", "project": _project()})
    lr = {"value": "0.1", "type": "float", "description": ""}
    bs = {"value": "32", "type": "int", "description": ""}
    client.set_hyperparameters(task["id"], {"Args": {"lr": lr}}, replace=True)
    merged = client.set_hyperparameters(task["id"], {"Args": {"batch": bs}})
    assert merged["hyperparameters"]["Args"] == {"lr": lr, "batch": bs}
    replaced = client.set_hyperparameters(task["id"], {"Args": {"batch": bs}}, replace=True)
    assert replaced["hyperparameters"]["Args"] == {"batch": bs}
    conf = {"General": {"type": "dictionary", "text": "{}", "description": ""}}
    assert client.set_configuration(task["id"], conf)["configuration"] == conf
    props = {"owner": {"value": "alice", "type": "str", "description": ""}}
    assert client.set_user_properties(task["id"], props)["user_properties"] == props
    assert client.set_user_properties(task["id"], {"owner": None})["user_properties"] == {}


def test_unknown_task_is_not_found(client: ApiClient) -> None:
    missing = "0" * 32
    with pytest.raises(NotFound) as caught:
        client.get_task(missing)
    assert missing in caught.value.message
    assert caught.value.status == 404


def test_bad_input_is_invalid_input(client: ApiClient) -> None:
    with pytest.raises(InvalidInput) as caught:
        client.create_task({"name": "x", "project": _project(), "type": "not-a-type"})
    assert caught.value.status == 400
    task = client.create_task({"name": "x", "project": _project()})
    with pytest.raises(InvalidInput):
        client.get_scalars(task["id"], max_points=-1)


def test_a_body_json_cannot_carry_is_refused_before_sending(client: ApiClient) -> None:
    task = client.create_task({"name": "x", "project": _project()})
    with pytest.raises(InvalidInput, match="JSON"):
        client.update_task(task["id"], comment=object())


def test_scalars_round_trip_and_batch_dedupe(client: ApiClient) -> None:
    task = client.create_task({"name": "scalars", "project": _project()})
    series = {
        "metric": "loss",
        "variant": "train",
        "iterations": pack_ints([0, 1, 2]),
        "values": pack_floats([1.0, float("nan"), 0.25]),
        "timestamps": pack_floats([1.0, 2.0, 3.0]),
    }
    batch = {"batch_id": uuid.uuid4().hex, "series": [series]}
    assert client.post_scalars(task["id"], batch) == {"stored": 3, "duplicate": False}
    assert client.post_scalars(task["id"], batch)["duplicate"] is True
    data = client.get_scalars(task["id"], max_points=0, metrics=["loss"])
    assert data["metrics"]["loss"]["train"]["x"] == [0, 1, 2]
    assert data["metrics"]["loss"]["train"]["y"] == [1.0, None, 0.25]
    summary = client.get_metrics(task["id"])["metrics"]["loss"]["train"]
    assert (summary["count"], summary["last"], summary["min"]) == (3, 0.25, 0.25)


def test_console_round_trip(client: ApiClient) -> None:
    task = client.create_task({"name": "console", "project": _project()})
    lines = [{"stream": "stdout", "text": f"line {i}", "ts": 1.0 + i} for i in range(3)]
    batch_id = uuid.uuid4().hex
    assert client.post_console(task["id"], lines, batch_id=batch_id)["stored"] == 3
    assert client.post_console(task["id"], lines, batch_id=batch_id)["duplicate"] is True
    first = client.get_console(task["id"], limit=2)
    assert [line["text"] for line in first["lines"]] == ["line 0", "line 1"]
    rest = client.get_console(task["id"], after=first["next"])
    assert [line["text"] for line in rest["lines"]] == ["line 2"]


def test_projects(client: ApiClient) -> None:
    parent = _project()
    created = client.create_project(f"{parent}/child", description="d")
    assert created["name"] == f"{parent}/child"
    assert client.create_project(f"{parent}/child")["id"] == created["id"]
    children = client.list_projects(parent=parent)["items"]
    assert [p["name"] for p in children] == [f"{parent}/child"]
    assert client.get_project(created["id"])["description"] == "d"


def test_no_server_is_server_unavailable_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ApiClient(url, timeout=2) as client, pytest.raises(ServerUnavailable) as caught:
        client.get_task("0" * 32)
    assert url in caught.value.message
    assert caught.value.status == 503


def test_injected_http_client_is_used_with_the_token(api_url: str) -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [seen.append]}) as http:
        client = ApiClient(f"{api_url}/api/v1/", http=http, token="s3cret")
        task = client.create_task({"name": "hooked", "project": _project()})
        client.close()  # the caller's client stays open
        assert client.get_task(task["id"])["id"] == task["id"]
    assert [r.method for r in seen] == ["POST", "GET"]
    assert all(r.headers["authorization"] == "Bearer s3cret" for r in seen)
    assert str(seen[1].url) == f"{api_url}/api/v1/tasks/{task['id']}"


def test_run_client_writes_inputs_with_force_on_the_same_connection(api_url: str) -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [seen.append]}) as http:
        client = ApiClient(api_url, http=http)
        task = client.create_task({"name": "run", "project": _project(), "status": "running"})
        run = client.as_run_client()
        props = {"owner": {"value": "me", "type": "str", "description": ""}}
        run.set_user_properties(task["id"], props)
        run.close()  # shares the connection: closing the twin closes nothing
        client.set_user_properties(task["id"], props)
    assert [r.url.params.get("force") for r in seen] == [None, "true", None]

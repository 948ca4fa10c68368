"""Every refusal has one shape, ``{"error": {"code", "message", "detail"}}``, and changes
nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import ServerProcess

UNKNOWN = "0" * 32
SMALL_LIMIT = 4096


@pytest.fixture
def task(client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        "/tasks",
        json={
            "name": "shape",
            "project": f"errors-{uuid.uuid4().hex[:12]}",
            "hyperparameters": {"Args": {"lr": {"value": "0.1", "type": "float"}}},
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error of ``response``, after checking its status and the envelope's exact shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def unchanged(client: httpx.Client, task: dict[str, Any]) -> None:
    response = client.get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.json() == task


def project_exists(client: httpx.Client, name: str) -> bool:
    return name in {p["name"] for p in client.get("/projects").json()["items"]}


def test_malformed_json(client: httpx.Client, task: dict[str, Any]) -> None:
    response = client.patch(
        f"/tasks/{task['id']}",
        content=b'{"name": "half',
        headers={"content-type": "application/json"},
    )
    error = refused(response, 400, "invalid_input")
    assert "JSON" in error["message"]
    unchanged(client, task)


def test_wrong_types(client: httpx.Client, task: dict[str, Any]) -> None:
    error = refused(
        client.patch(f"/tasks/{task['id']}", json={"name": 5, "last_iteration": "ten"}),
        400,
        "invalid_input",
    )
    assert {problem["where"] for problem in error["detail"]} == {
        "body.name",
        "body.last_iteration",
    }
    unchanged(client, task)
    name = f"errors-{uuid.uuid4().hex[:12]}"
    refused(
        client.post("/tasks", json={"name": "t", "project": name, "tags": "a"}),
        400,
        "invalid_input",
    )
    assert not project_exists(client, name)


def test_unknown_fields(client: httpx.Client, task: dict[str, Any]) -> None:
    refused(client.patch(f"/tasks/{task['id']}", json={"colour": "red"}), 400, "invalid_input")
    refused(
        client.patch(f"/tasks/{task['id']}", json={"execution": {"repo": "x"}}),
        400,
        "invalid_input",
    )
    unchanged(client, task)


def test_unknown_task(client: httpx.Client) -> None:
    error = refused(client.get(f"/tasks/{UNKNOWN}"), 404, "not_found")
    assert UNKNOWN in error["message"]
    refused(client.patch(f"/tasks/{UNKNOWN}", json={"name": "x"}), 404, "not_found")
    refused(client.put(f"/tasks/{UNKNOWN}/hyperparameters", json={}), 404, "not_found")
    refused(client.patch(f"/tasks/{UNKNOWN}/user_properties", json={}), 404, "not_found")
    refused(client.get(f"/projects/{UNKNOWN}"), 404, "not_found")
    refused(client.get("/tasks", params={"project": f"none-{UNKNOWN}"}), 404, "not_found")


def test_unknown_route(client: httpx.Client) -> None:
    error = refused(client.get("/no/such/route"), 404, "not_found")
    assert "/api/v1/no/such/route" in error["message"]


def test_bad_enum_value(client: httpx.Client, task: dict[str, Any]) -> None:
    error = refused(
        client.patch(f"/tasks/{task['id']}", json={"status": "finished", "comment": "x"}),
        400,
        "invalid_input",
    )
    assert "running" in error["message"]  # it says which values would do
    refused(client.get("/tasks", params={"status": "finished"}), 400, "invalid_input")
    refused(client.get("/tasks", params={"archived": "maybe"}), 400, "invalid_input")
    unchanged(client, task)


def test_bad_order_by(client: httpx.Client) -> None:
    error = refused(client.get("/tasks", params={"order_by": "-colour"}), 400, "invalid_input")
    assert "metrics.METRIC/VARIANT.last" in error["detail"]["valid"]
    refused(client.get("/tasks", params={"page_size": 501}), 400, "invalid_input")


def test_a_refused_batch_of_inputs_stores_none_of_it(
    client: httpx.Client, task: dict[str, Any]
) -> None:
    body = {"Args": {"lr": {"value": "0.5"}}, "bad/../section": {"x": {"value": "1"}}}
    refused(client.patch(f"/tasks/{task['id']}/hyperparameters", json=body), 400, "invalid_input")
    refused(
        client.put(f"/tasks/{task['id']}/hyperparameters", json={"Args": {"lr": None}}),
        400,
        "invalid_input",
    )
    unchanged(client, task)
    # Nor is the project a refused task would have made.
    name = f"errors-{uuid.uuid4().hex[:12]}/deep"
    refused(
        client.post("/tasks", json={"name": "t", "project": name, "hyperparameters": body}),
        400,
        "invalid_input",
    )
    assert not project_exists(client, name.split("/")[0])


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own that accepts bodies of at most SMALL_LIMIT bytes."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TUNELAB_MAX_BODY_BYTES", str(SMALL_LIMIT))
        proc = ServerProcess(Path(tmp_path_factory.mktemp("small-limit")))
        proc.start()
    yield proc
    proc.stop()


def test_oversize_body(small_server: ServerProcess) -> None:
    with httpx.Client(base_url=f"{small_server.url}/api/v1", timeout=60) as client:
        task = client.post("/tasks", json={"name": "t", "project": "limits"}).json()
        big = {"comment": "x" * SMALL_LIMIT}
        error = refused(client.patch(f"/tasks/{task['id']}", json=big), 413, "payload_too_large")
        assert str(SMALL_LIMIT) in error["message"]
        unchanged(client, task)


def test_oversize_streamed_body(small_server: ServerProcess) -> None:
    """Without a Content-Length the server learns the size only while reading the body."""

    def chunks() -> Iterator[bytes]:
        yield b'{"comment": "'
        for _ in range(SMALL_LIMIT // 1024 + 1):
            yield b"y" * 1024
        yield b'"}'

    with httpx.Client(base_url=f"{small_server.url}/api/v1", timeout=60) as client:
        task = client.post("/tasks", json={"name": "t", "project": "limits"}).json()
        streamed = client.patch(
            f"/tasks/{task['id']}", content=chunks(), headers={"content-type": "application/json"}
        )
        refused(streamed, 413, "payload_too_large")
        unchanged(client, task)

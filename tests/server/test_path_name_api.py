"""Over the API and the pages, a name that would become a URL path segment it cannot be is a
400 with the error envelope, never a stored name and never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.server.answers import ok

HOSTILE = ["../../../api/v1/files/x.html", "a/../b", "..", "a\\b", "line\nbreak"]


def refused(answer: httpx.Response) -> str:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    return str(error["message"])


@pytest.mark.parametrize("name", HOSTILE)
def test_the_api_refuses_path_names_it_cannot_address(client: httpx.Client, name: str) -> None:
    task = ok(client.post("/tasks", json={"name": "t", "project": "vision/resnet"}), 201)
    url = f"/tasks/{task['id']}"
    for method in ("PUT", "PATCH"):
        answer = client.request(method, f"{url}/configuration", json={name: {"text": "x"}})
        assert "appears in URLs" in refused(answer)
    made = client.post(
        "/tasks", json={"name": "t", "project": "p", "configuration": {name: {"text": "x"}}}
    )
    refused(made)
    if "/" not in name:  # (a "/" in a section is refused already, with its own reason)
        section = {name: {"lr": {"value": "1"}}}
        assert "appears in URLs" in refused(client.patch(f"{url}/hyperparameters", json=section))
    for segment in (name, "a/b"):
        refused(client.post("/queues", json={"name": segment}))
        refused(client.post("/workers", json={"id": segment, "queues": ["default"]}))
    assert ok(client.get(url))["configuration"] == {}


def test_project_names_keep_their_slashes(client: httpx.Client) -> None:
    task = ok(client.post("/tasks", json={"name": "t", "project": "vision/resnet"}), 201)
    assert task["project"]["name"] == "vision/resnet"


def test_the_page_form_refuses_a_configuration_name_a_url_cannot_hold(
    client: httpx.Client, api_url: str
) -> None:
    task = ok(client.post("/tasks", json={"name": "t", "project": "p"}), 201)
    with httpx.Client(base_url=api_url, timeout=30) as web:
        web.get("/")
        token = web.cookies["tunelab_csrf"]
        answer = web.post(
            f"/experiments/{task['id']}/configuration-objects",
            data={"name": "../x", "text": "a"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
    assert answer.status_code == 400
    assert "appears in URLs" in answer.text
    assert ok(client.get(f"/tasks/{task['id']}"))["configuration"] == {}

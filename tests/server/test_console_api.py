"""The console routes on a real server process: append, live tail, search, dedupe, refusals."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.server.test_scalars_api import UNKNOWN, assert_error, create_task


def send(client: httpx.Client, task: str, *texts: str, **extra: Any) -> httpx.Response:
    lines = [{"stream": "stdout", "text": text, "ts": 1.7e9 + i} for i, text in enumerate(texts)]
    return client.post(f"/tasks/{task}/console", json={"lines": lines, **extra})


def tail(client: httpx.Client, task: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/tasks/{task}/console", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def texts(page: dict[str, Any]) -> list[str]:
    return [line["text"] for line in page["lines"]]


def test_lines_come_back_with_seq_stream_and_time(client: httpx.Client) -> None:
    task = create_task(client)
    body = {
        "lines": [
            {"stream": "stdout", "text": "epoch 1", "ts": 1.5},
            {"stream": "stderr", "text": "careful", "ts": 2.5},
            {"stream": "log", "text": "no ts"},
        ]
    }
    answer = client.post(f"/tasks/{task}/console", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 3, "duplicate": False}
    page = tail(client, task)
    first, second, third = page["lines"]
    assert {k: first[k] for k in ("stream", "text", "ts")} == body["lines"][0]
    assert (second["stream"], second["ts"]) == ("stderr", 2.5)
    assert third["ts"] > 1.6e9  # stamped by the server
    assert first["seq"] < second["seq"] < third["seq"]
    assert page["next"] == third["seq"]


def test_live_tail_with_after_reads_only_new_lines(client: httpx.Client) -> None:
    task = create_task(client)
    send(client, task, "one", "two")
    first = tail(client, task, after=0)
    assert texts(first) == ["one", "two"]
    idle = tail(client, task, after=first["next"])
    assert idle == {"lines": [], "next": first["next"]}
    send(client, task, "three")
    assert texts(tail(client, task, after=first["next"])) == ["three"]


def test_limit_and_search(client: httpx.Client) -> None:
    task = create_task(client)
    send(client, task, "Epoch 1 loss=0.5", "saving", "epoch 2 loss=0.4", "EPOCH 3 done", "50%_x")
    page = tail(client, task, search="epoch", limit=2)
    assert texts(page) == ["Epoch 1 loss=0.5", "epoch 2 loss=0.4"]
    assert texts(tail(client, task, search="epoch", after=page["next"])) == ["EPOCH 3 done"]
    assert texts(tail(client, task, search="%_")) == ["50%_x"]
    assert texts(tail(client, task, limit=1)) == ["Epoch 1 loss=0.5"]


def test_retried_batch_is_stored_once(client: httpx.Client) -> None:
    task = create_task(client)
    batch_id = uuid.uuid4().hex
    assert send(client, task, "hello", batch_id=batch_id).json()["duplicate"] is False
    assert send(client, task, "hello", batch_id=batch_id).json() == {
        "stored": 0,
        "duplicate": True,
    }
    assert texts(tail(client, task)) == ["hello"]


@pytest.mark.parametrize(
    "line",
    [
        {"stream": "stdin", "text": "x"},
        {"stream": "stdout"},
        {"stream": "stdout", "text": 5},
        {"stream": "stdout", "text": "x", "ts": "soon"},
        {"stream": "stdout", "text": "x", "colour": "red"},
    ],
)
def test_bad_line_refuses_the_whole_batch(client: httpx.Client, line: dict[str, Any]) -> None:
    task = create_task(client)
    body = {"lines": [{"stream": "stdout", "text": "fine"}, line]}
    assert_error(client.post(f"/tasks/{task}/console", json=body), 400, "invalid_input")
    assert tail(client, task)["lines"] == []


@pytest.mark.parametrize("params", [{"after": -1}, {"limit": 0}, {"limit": 10_001}])
def test_bad_read_parameters_are_refused(client: httpx.Client, params: dict[str, int]) -> None:
    task = create_task(client)
    assert_error(client.get(f"/tasks/{task}/console", params=params), 400, "invalid_input")


def test_unknown_task_is_404(client: httpx.Client) -> None:
    assert_error(send(client, UNKNOWN, "x"), 404, "not_found")
    assert_error(client.get(f"/tasks/{UNKNOWN}/console"), 404, "not_found")

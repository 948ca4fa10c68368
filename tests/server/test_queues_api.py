"""The queue routes on a real server process."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.server.answers import ok


@pytest.fixture
def queue() -> str:
    """A queue of this test's own: the server is shared by the whole session."""
    return f"q-{uuid.uuid4().hex[:10]}"


def enqueued(client: httpx.Client, queue: str, name: str) -> str:
    task = ok(client.post("/tasks", json={"name": name, "project": "queues-api"}), 201)
    ok(client.post(f"/tasks/{task['id']}/enqueue", json={"queue": queue}))
    task_id: str = task["id"]
    return task_id


def names(answer: dict[str, Any]) -> list[str]:
    return [entry["task"]["name"] for entry in answer["items"]]


def test_default_queue_and_creating_queues(client: httpx.Client, queue: str) -> None:
    listed = ok(client.get("/queues"))["items"]
    assert "default" in [q["name"] for q in listed]
    made = ok(client.post("/queues", json={"name": queue}), 201)
    assert set(made) == {"id", "name", "created", "length", "workers"}
    assert (made["name"], made["length"], made["workers"]) == (queue, 0, [])
    assert ok(client.post("/queues", json={"name": queue}), 200) == made
    refused = client.post("/queues", json={"name": "a/b"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_input"


def test_entries_in_order_moves_and_removal(client: httpx.Client, queue: str) -> None:
    a, b, c = (enqueued(client, queue, name) for name in "abc")
    entries = ok(client.get(f"/queues/{queue}/entries"))
    assert names(entries) == ["a", "b", "c"]
    first = entries["items"][0]
    assert set(first) == {"task", "position", "added"}
    assert (first["task"]["status"], first["task"]["queue"]) == ("queued", queue)
    assert "execution" not in first["task"]  # a TaskSummary
    moved = ok(client.post(f"/queues/{queue}/entries/{c}/move", json={"to": "top"}))
    assert names(moved) == ["c", "a", "b"]
    moved = ok(client.post(f"/queues/{queue}/entries/{c}/move", json={"to": "before", "before": b}))
    assert names(moved) == ["a", "c", "b"]
    moved = ok(client.post(f"/queues/{queue}/entries/{a}/move", json={"to": "bottom"}))
    assert names(moved) == ["c", "b", "a"]
    lengths = {q["name"]: q["length"] for q in ok(client.get("/queues"))["items"]}
    assert lengths[queue] == 3
    removed = ok(client.delete(f"/queues/{queue}/entries/{b}"))
    assert (removed["status"], removed["queue"]) == ("draft", None)
    assert names(ok(client.get(f"/queues/{queue}/entries"))) == ["c", "a"]


def test_queue_errors(client: httpx.Client, queue: str) -> None:
    task_id = enqueued(client, queue, "t")
    assert client.get("/queues/no-such-queue/entries").status_code == 404
    assert client.delete(f"/queues/no-such-queue/entries/{task_id}").status_code == 404
    assert client.delete(f"/queues/default/entries/{task_id}").status_code == 404
    bad_move = client.post(f"/queues/{queue}/entries/{task_id}/move", json={"to": "middle"})
    assert bad_move.status_code == 400
    missing_before = client.post(f"/queues/{queue}/entries/{task_id}/move", json={"to": "before"})
    assert missing_before.status_code == 400
    assert names(ok(client.get(f"/queues/{queue}/entries"))) == ["t"]

"""The worker routes on a real server process: registration, heartbeats, the long poll and
the reaping of a silent worker."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.event_loop import run_coroutine
from tests.server.answers import ok
from tests.services import ServerProcess
from tunelab.errors import ConfigError
from tunelab.server import maintenance
from tunelab.server.settings import ServerSettings
from tunelab.store.engine import create_engine


@pytest.fixture
def queue() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


def register(client: httpx.Client, *queues: str) -> str:
    worker_id = f"host:{uuid.uuid4().hex[:8]}"
    worker = ok(client.post("/workers", json={"id": worker_id, "queues": list(queues)}))
    assert set(worker) == {
        "id",
        "queues",
        "task_id",
        "busy",
        "host",
        "registered",
        "last_heartbeat",
    }
    assert worker["queues"] == list(queues)
    return worker_id


def draft(client: httpx.Client, name: str = "t") -> str:
    task = ok(client.post("/tasks", json={"name": name, "project": "workers-api"}), 201)
    task_id: str = task["id"]
    return task_id


def enqueue(client: httpx.Client, task_id: str, queue: str) -> None:
    ok(client.post(f"/tasks/{task_id}/enqueue", json={"queue": queue}))


def test_next_takes_in_queue_order_and_heartbeat_answers_stops(
    client: httpx.Client, queue: str
) -> None:
    low = f"{queue}-low"
    worker = register(client, queue, low)
    assert worker in {w["id"] for w in ok(client.get("/workers"))["items"]}
    later, first = draft(client, "low"), draft(client, "high")
    enqueue(client, later, low)
    enqueue(client, first, queue)
    taken = ok(client.post(f"/workers/{worker}/next", json={"timeout": 0}))["task"]
    assert (taken["id"], taken["status"], taken["worker"]) == (first, "running", worker)
    assert taken["hyperparameters"] == {} and "execution" in taken  # the whole Task
    assert ok(client.post(f"/workers/{worker}/heartbeat", json={"task_id": first})) == {"stop": []}
    ok(client.post(f"/tasks/{first}/stop", json={"reason": "enough"}))
    beat = ok(client.post(f"/workers/{worker}/heartbeat", json={"task_id": first}))
    assert beat == {"stop": [first]}
    second = ok(client.post(f"/workers/{worker}/next", json={"timeout": 0}))["task"]
    assert second["id"] == later
    response = client.delete(f"/workers/{worker}")
    assert response.status_code == 204
    assert worker not in {w["id"] for w in ok(client.get("/workers"))["items"]}


def test_long_poll_with_nothing_answers_null_after_the_timeout(
    client: httpx.Client, queue: str
) -> None:
    worker = register(client, queue)
    began = time.monotonic()
    answer = ok(client.post(f"/workers/{worker}/next", json={"timeout": 0.6}))
    waited = time.monotonic() - began
    assert answer == {"task": None}
    assert 0.6 <= waited < 2.0


def test_long_poll_wakes_at_once_on_an_enqueue(client: httpx.Client, queue: str) -> None:
    worker = register(client, queue)
    registered = ok(client.get("/workers"))["items"]
    since = next(w["last_heartbeat"] for w in registered if w["id"] == worker)
    task_id = draft(client)
    answer: dict[str, Any] = {}

    def poll() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
            answer.update(ok(own.post(f"/workers/{worker}/next", json={"timeout": 20})))
            answer["at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    # Bounded wait until the poll is under way: each claim attempt moves the heartbeat.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        workers = ok(client.get("/workers"))["items"]
        if next(w["last_heartbeat"] for w in workers if w["id"] == worker) > since:
            break
        time.sleep(0.02)
    enqueue(client, task_id, queue)
    enqueued_at = time.monotonic()
    thread.join(timeout=30)
    assert answer["task"]["id"] == task_id
    assert answer["at"] - enqueued_at < 0.3


def test_worker_errors(client: httpx.Client, queue: str) -> None:
    ghost = client.post("/workers/ghost-worker/next", json={"timeout": 0})
    assert ghost.status_code == 404 and "register" in ghost.json()["error"]["message"]
    assert client.post("/workers/ghost-worker/heartbeat", json={}).status_code == 404
    assert client.delete("/workers/ghost-worker").status_code == 404
    worker = register(client, queue)
    too_long = client.post(f"/workers/{worker}/next", json={"timeout": 61})
    assert too_long.status_code == 400
    assert client.post("/workers", json={"id": "a/b", "queues": []}).status_code == 400
    done = draft(client)
    ok(client.post(f"/tasks/{done}/start", json={"worker": worker}))
    ok(client.patch(f"/tasks/{done}", json={"status": "completed"}))
    refused = client.post(f"/tasks/{done}/start", json={"worker": worker})
    assert refused.status_code == 409
    assert "cannot start a completed task" in refused.json()["error"]["message"]


def test_a_silent_worker_is_reaped(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server", env={"TUNELAB_WORKER_TIMEOUT": "2"})
    server.start()
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
            silent, alive = register(client, "default"), register(client, "default")
            # A worker waiting in a poll longer than the worker timeout is alive all along.
            waiting = register(client, "nothing-comes")
            waited: dict[str, Any] = {}

            def wait_in_a_long_poll() -> None:
                with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
                    waited.update(ok(own.post(f"/workers/{waiting}/next", json={"timeout": 5})))

            poll = threading.Thread(target=wait_in_a_long_poll)
            poll.start()
            lost, kept = draft(client, "lost"), draft(client, "kept")
            enqueue(client, lost, "default")
            enqueue(client, kept, "default")
            assert ok(client.post(f"/workers/{silent}/next", json={"timeout": 0}))["task"]
            assert ok(client.post(f"/workers/{alive}/next", json={"timeout": 0}))["task"]
            deadline = time.monotonic() + 15
            task = ok(client.get(f"/tasks/{lost}"))
            while task["status"] == "running" and time.monotonic() < deadline:
                ok(client.post(f"/workers/{alive}/heartbeat", json={"task_id": kept}))
                task = ok(client.get(f"/tasks/{lost}"))
                time.sleep(0.2)
            assert (task["status"], task["status_reason"]) == ("failed", "worker lost")
            assert ok(client.get(f"/tasks/{kept}"))["status"] == "running"
            ids = {w["id"] for w in ok(client.get("/workers"))["items"]}
            assert alive in ids and silent not in ids
            gone = client.post(f"/workers/{silent}/heartbeat", json={"task_id": lost})
            assert gone.status_code == 404
            poll.join(timeout=30)
            assert waited == {"task": None}
            assert waiting in {w["id"] for w in ok(client.get("/workers"))["items"]}
    finally:
        server.stop()


def test_worker_timeout_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELAB_WORKER_TIMEOUT", "2.5")
    assert ServerSettings.from_env(data_dir="/tmp/x").worker_timeout == 2.5
    monkeypatch.delenv("TUNELAB_WORKER_TIMEOUT")
    assert ServerSettings.from_env(data_dir="/tmp/x").worker_timeout == 60
    for bad in ("soon", "0", "-1", "nan", "inf"):
        monkeypatch.setenv("TUNELAB_WORKER_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="TUNELAB_WORKER_TIMEOUT"):
            ServerSettings.from_env(data_dir="/tmp/x")


def test_maintenance_logs_errors_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every reap fails
    try:
        with pytest.raises(TimeoutError):
            run_coroutine(asyncio.wait_for(maintenance.run(engine, worker_timeout=2), timeout=1.3))
    finally:
        engine.dispose()
    failures = [r for r in caplog.records if "reaping lost workers failed" in r.getMessage()]
    assert len(failures) >= 2

"""``tunelab task`` lifecycle commands and ``tunelab queue`` against the real server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.scripts import unique
from tunelab.sdk.transport import ApiClient


def tunelab(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def succeeded(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one useful line
    return lines[0]


def failed(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert message in done.stderr, done.stderr
    assert lines[-1].startswith("error:") or lines[-1].startswith("Error:"), done.stderr


@pytest.fixture
def recorded(client: ApiClient) -> dict[str, Any]:
    """A finished run, as the SDK records one."""
    task = client.create_task(
        {
            "name": "baseline",
            "project": unique("cli-life"),
            "status": "running",
            "hyperparameters": {
                "Args": {
                    "lr": {"value": "0.1", "type": "float"},
                    "epochs": {"value": "3", "type": "int"},
                    "amp": {"value": "False", "type": "bool"},
                }
            },
        }
    )
    return client.update_task(task["id"], status="completed")


def test_clone_tune_enqueue_dequeue(
    env: dict[str, str], client: ApiClient, recorded: dict[str, Any]
) -> None:
    project = f"{recorded['project']['name']}/tuned"
    line = succeeded(
        tunelab(env, "task", "clone", recorded["id"], "--project", project, "--name", "lr-up")
    )
    clone_id = line.split(" as ")[1].split()[0]
    assert line == f"cloned {recorded['id']} as {clone_id} (draft) in project {project}: lr-up"
    assert client.get_task(clone_id)["parent"] == recorded["id"]

    line = succeeded(
        tunelab(
            env, "task", "set-param", clone_id, "--add", "Args/lr=0.5", "Args/amp=yes", "New/x=a=b"
        )
    )
    assert line == f"set Args/lr=0.5 (float), Args/amp=True (bool), New/x=a=b (str) on {clone_id}"
    args = client.get_task(clone_id)["hyperparameters"]
    assert args["Args"]["lr"] == {"value": "0.5", "type": "float", "description": ""}
    assert args["Args"]["epochs"]["value"] == "3"  # merged: the others are kept
    assert args["New"]["x"]["value"] == "a=b"

    queue = f"q-{uuid.uuid4().hex[:8]}"
    assert succeeded(tunelab(env, "task", "enqueue", clone_id, "--queue", queue)) == (
        f"enqueued {clone_id} in queue {queue}"
    )
    listed = tunelab(env, "queue", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(row.split()[:2] == [queue, "1"] for row in listed.stdout.splitlines())
    shown = tunelab(env, "queue", "show", queue)
    assert shown.returncode == 0, shown.stderr
    assert clone_id in shown.stdout and "1 waiting in" in shown.stdout
    failed(tunelab(env, "task", "set-param", clone_id, "Args/lr=1"), "queued task")
    assert "draft again" in succeeded(tunelab(env, "task", "dequeue", clone_id))
    assert client.get_task(clone_id)["status"] == "draft"


def test_reset_publish_archive_delete(
    env: dict[str, str], client: ApiClient, recorded: dict[str, Any]
) -> None:
    task_id = recorded["id"]
    assert succeeded(tunelab(env, "task", "publish", task_id)).startswith(f"published {task_id}")
    failed(tunelab(env, "task", "reset", task_id), "cannot reset a published task")
    failed(tunelab(env, "task", "delete", task_id, "--yes"), "cannot delete a published task")
    assert succeeded(tunelab(env, "task", "archive", task_id)) == f"archived {task_id}"
    assert client.get_task(task_id)["archived"] is True
    assert succeeded(tunelab(env, "task", "archive", task_id, "--undo")) == f"unarchived {task_id}"

    clone = client.clone_task(task_id)
    draft = client.clone_task(task_id)
    line = succeeded(tunelab(env, "task", "reset", draft["id"], "--delete-artifacts"))
    assert line.startswith(f"reset {draft['id']} to draft")
    refused = tunelab(env, "task", "delete", draft["id"], stdin="n\n")
    assert refused.returncode != 0 and client.get_task(draft["id"])["status"] == "draft"
    confirmed = tunelab(env, "task", "delete", draft["id"], stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.strip().endswith(f"deleted {draft['id']}")
    assert succeeded(tunelab(env, "task", "delete", clone["id"], "--yes")) == (
        f"deleted {clone['id']}"
    )


def test_stop_a_queued_and_a_running_task(env: dict[str, str], client: ApiClient) -> None:
    queued = client.create_task({"name": "q", "project": unique("cli-stop")})
    client.enqueue_task(queued["id"])
    assert succeeded(tunelab(env, "task", "stop", queued["id"])) == f"stopped {queued['id']}"
    running = client.create_task({"name": "r", "project": unique("cli-stop"), "status": "running"})
    line = succeeded(tunelab(env, "task", "stop", running["id"], "--reason", "enough"))
    assert line == f"asked the agent running {running['id']} to stop it"
    assert client.get_task(running["id"])["stop_requested"] is True


def test_errors_are_one_line(env: dict[str, str], recorded: dict[str, Any]) -> None:
    task_id = recorded["id"]
    failed(tunelab(env, "task", "set-param", task_id, "lr=0.5"), "SECTION/NAME=VALUE")
    failed(tunelab(env, "task", "set-param", task_id, "Args/lr"), "SECTION/NAME=VALUE")
    failed(tunelab(env, "task", "set-param", task_id, "Args/epochs=many"), "stored as int")
    failed(
        tunelab(env, "task", "set-param", task_id, "Args/lr=0.5"),
        "cannot edit the inputs of a completed task",
    )
    failed(tunelab(env, "task", "dequeue", task_id), "cannot dequeue a completed task")
    failed(tunelab(env, "task", "enqueue", "0" * 32), "no task with id")
    failed(tunelab(env, "queue", "show", "no-such-queue"), "no queue named 'no-such-queue'")


def test_edit_names_tags_and_comments(
    env: dict[str, str], client: ApiClient, recorded: dict[str, Any]
) -> None:
    task_id = recorded["id"]
    client.update_task(task_id, tags=["old", "keep"])
    line = succeeded(
        tunelab(
            env, "task", "edit", task_id, "--name", "baseline v2", "--tag", "best",
            "--tag", "paper", "--remove-tag", "old", "--comment", "the one to beat",
        )
    )  # fmt: skip
    assert line == f"edited {task_id}: baseline v2 [best, keep, paper]"
    stored = client.get_task(task_id)
    assert (stored["name"], stored["tags"], stored["comment"]) == (
        "baseline v2",
        ["best", "keep", "paper"],
        "the one to beat",
    )
    failed(tunelab(env, "task", "edit", task_id), "nothing to change")
    client.publish_task(task_id)
    failed(tunelab(env, "task", "edit", task_id, "--name", "late"), "cannot rename a published")
    tagged = succeeded(tunelab(env, "task", "edit", task_id, "--remove-tag", "paper"))
    assert tagged == f"edited {task_id}: baseline v2 [best, keep]"
    assert client.get_task(task_id)["tags"] == ["best", "keep"]

"""Small typos caught: enqueueing to a queue no worker serves says so (API and CLI), and
``task set-param`` on a key the task does not have needs ``--add``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.cli.test_task_lifecycle_cli import failed, succeeded, tunelab
from tests.scripts import unique
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def draft(client: ApiClient) -> dict[str, Any]:
    return client.create_task(
        {
            "name": "baseline",
            "project": unique("cli-typos"),
            "hyperparameters": {"Args": {"lr": {"value": "0.1", "type": "float"}}},
        }
    )


def test_the_api_warns_of_a_queue_no_worker_serves(
    api_url: str, client: ApiClient, draft: dict[str, Any]
) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    answer = httpx.post(f"{api_url}/api/v1/tasks/{draft['id']}/enqueue", json={"queue": queue})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"
    assert answer.json()["warning"] == f"no worker serves queue {queue}"

    served = f"q-{uuid.uuid4().hex[:8]}"
    worker = f"w-{uuid.uuid4().hex[:8]}"
    client.register_worker(worker, [served])
    try:
        other = client.create_task({"name": "other", "project": draft["project"]["name"]})
        answer = httpx.post(f"{api_url}/api/v1/tasks/{other['id']}/enqueue", json={"queue": served})
        assert answer.status_code == 200, answer.text
        assert answer.json()["warning"] == ""
    finally:
        httpx.delete(f"{api_url}/api/v1/workers/{worker}")


def test_the_cli_warns_of_a_queue_no_worker_serves(
    env: dict[str, str], draft: dict[str, Any]
) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    done = tunelab(env, "task", "enqueue", draft["id"], "--queue", queue)
    assert succeeded(done) == f"enqueued {draft['id']} in queue {queue}"
    assert done.stderr.strip() == f"warning: no worker serves queue {queue}"


def test_set_param_on_a_key_the_task_lacks_needs_add(
    env: dict[str, str], client: ApiClient, draft: dict[str, Any]
) -> None:
    task_id = draft["id"]
    failed(tunelab(env, "task", "set-param", task_id, "Args/lr=0.5", "Args/lrr=0.5"), "--add")
    done = tunelab(env, "task", "set-param", task_id, "Args/lrr=0.5")
    failed(done, "Args/lrr")
    assert "Args/lr" in done.stderr  # the keys it has, to spot the typo
    assert client.get_task(task_id)["hyperparameters"] == draft["hyperparameters"]  # no change

    line = succeeded(tunelab(env, "task", "set-param", task_id, "--add", "Args/warmup=5"))
    assert line == f"set Args/warmup=5 (str) on {task_id}"
    assert client.get_task(task_id)["hyperparameters"]["Args"]["warmup"]["value"] == "5"


@pytest.mark.parametrize(
    ("option", "shown"),
    [
        (["--total", "-1"], "Invalid value for '--total'"),  # ran a search of no trial, exit 0
        (["--poll", "0"], "Invalid value for '--poll'"),  # polled the server in a busy loop
        (["--top", "-1"], "Invalid value for '--top'"),
        (["--concurrency", "0"], "Invalid value for '--concurrency'"),
        (["--time-limit-per-job", "-5"], "Invalid value for '--time-limit-per-job'"),
        (["--param", "Args/b=uniform:0:1e999"], "must be finite numbers"),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else "",
)
def test_optimize_values_that_cannot_work_are_refused_first(
    api_url: str, option: list[str], shown: str
) -> None:
    from click.testing import CliRunner

    from tunelab.cli.main import cli

    base = ["optimize", "--base-task", "0" * 32, "--objective", "loss/val"]
    ranges = [] if option[0] == "--param" else ["--param", "Args/lr=uniform:0:1"]
    done = CliRunner().invoke(cli, [*base, *ranges, *option])
    assert done.exit_code == 2, done.output
    assert shown in done.output and "optimizer task" not in done.output

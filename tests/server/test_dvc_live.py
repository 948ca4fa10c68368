"""DVCLive's live metrics at ``POST /api/live``: an unchanged DVCLive script, run in a real
git + DVC repository with ``DVC_STUDIO_URL``/``DVC_STUDIO_TOKEN`` pointing at a real server
that asks for login, records a task with its metrics per step, params and status; and the
protocol's own requests (resends, errors, bad input) as ``dvc-studio-client`` sends them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounts import login_server
from tests.gitrepo import git, new_repo
from tests.services import ServerProcess
from tests.waiting import wait_for

REMOTE = "https://git.example.com/team/churn-model.git"
PROJECT = "churn-model"  # no project links the repository: one named after it
SHA = "0123456789abcdef0123456789abcdef01234567"

TRAIN = """\
import pathlib
import sys

from dvclive import Live

gate = pathlib.Path(sys.argv[1])
with Live(exp_name=sys.argv[2]) as live:
    live.log_param("lr", 0.1)
    live.log_params({"model": {"layers": [64, 32], "name": "mlp"}})
    for step in range(3):
        live.log_metric("train/loss", 1.0 / (step + 1))
        live.log_metric("acc", 0.5 + 0.1 * step)
        live.next_step()
        if step == 0:
            # Held here until the test has seen step 0 on the server (the run is live).
            for _ in range(600):
                if gate.exists():
                    break
                __import__("time").sleep(0.05)
"""


@dataclass
class Setup:
    server: ServerProcess
    bob: httpx.Client
    key: str
    repo: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("dvclive")
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(root),
        "DVC_NO_ANALYTICS": "1",
        "XDG_CONFIG_HOME": str(root / "config"),  # no user's DVC config
        **{
            f"GIT_{r}_{k}": v
            for r in ("AUTHOR", "COMMITTER")
            for k, v in (("NAME", "Tester"), ("EMAIL", "tester@example.com"))
        },
    }
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        repo = new_repo(root / "repo", {"train.py": TRAIN})
        git(repo, "remote", "add", "origin", REMOTE)
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, env=env, check=True)
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "dvc init")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    with login_server(root / "server", {"root": "admin", "bob": "member"}) as (server, clients):
        key = str(clients["bob"].headers["authorization"]).split(" ", 1)[1]
        yield Setup(server, clients["bob"], key, repo, env)


def _run(setup: Setup, name: str, token: str, gate: Path) -> subprocess.Popen[str]:
    env = {**setup.env, "DVC_STUDIO_URL": setup.server.url, "DVC_STUDIO_TOKEN": token}
    return subprocess.Popen(
        [sys.executable, "train.py", str(gate), name],
        cwd=setup.repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _task(client: httpx.Client, name: str) -> dict[str, Any] | None:
    answer = client.get("/tasks", params={"project": PROJECT, "search": name})
    if answer.status_code == 404:  # no such project yet
        return None
    found = answer.json()["items"]
    named = [t for t in found if t["name"] == name]
    return client.get(f"/tasks/{named[0]['id']}").json() if named else None


def _series(client: httpx.Client, task_id: str) -> dict[str, dict[str, Any]]:
    metrics: dict[str, dict[str, Any]] = client.get(f"/tasks/{task_id}/scalars").json()["metrics"]
    return metrics


def test_a_dvclive_run_is_a_task_with_live_metrics(setup: Setup, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    run = _run(setup, "brisk-lynx", setup.key, gate)
    try:
        # While the run waits after its first step, the task runs and shows that step.
        task = wait_for(lambda: _task(setup.bob, "brisk-lynx"), 60, "the run's task")
        assert task["status"] == "running"
        wait_for(
            lambda: _series(setup.bob, task["id"]).get("acc", {}).get("acc", {}).get("x") == [0],
            30,
            "step 0 live",
        )
        assert setup.bob.get(f"/tasks/{task['id']}").json()["status"] == "running"
    finally:
        gate.touch()
        output = run.communicate(timeout=120)[0]
    assert run.returncode == 0, output
    done = setup.bob.get(f"/tasks/{task['id']}").json()
    assert done["status"] == "completed"
    assert done["execution"]["repository"] == REMOTE
    assert done["execution"]["commit"] == git(setup.repo, "rev-parse", "HEAD")
    assert "dvclive" in done["tags"]
    params = done["hyperparameters"]["DVC"]
    assert params["lr"]["value"] == "0.1" and params["lr"]["type"] == "float"
    assert params["model.layers"]["type"] == "list"
    assert params["model.name"]["value"] == "mlp"
    series = _series(setup.bob, task["id"])
    assert series["train"]["loss"]["x"] == [0, 1, 2]
    assert series["train"]["loss"]["y"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert series["acc"]["acc"]["x"] == [0, 1, 2]
    assert series["acc"]["acc"]["y"] == pytest.approx([0.5, 0.6, 0.7])


def test_a_wrong_token_is_refused_and_the_run_still_completes(setup: Setup, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    gate.touch()
    run = _run(setup, "wrong-token", "tl_not-a-key", gate)
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 0, output
    assert "Failed to post to Studio" in output
    assert _task(setup.bob, "wrong-token") is None
    refused = httpx.post(
        f"{setup.server.url}/api/live",
        json=_event("start", "x"),
        headers={"Authorization": "token tl_not-a-key"},
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    # DVC Studio's "token KEY" form is for its endpoint only; the rest of the API wants Bearer.
    elsewhere = httpx.get(
        f"{setup.server.url}/api/v1/tasks", headers={"Authorization": f"token {setup.key}"}
    )
    assert elsewhere.status_code == 401


def _event(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "repo_url": REMOTE,
        "baseline_sha": SHA,
        "name": name,
        "client": "dvclive",
        **fields,
    }


def _post(setup: Setup, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{setup.server.url}/api/live",
        json=body,
        headers={"Authorization": f"token {setup.key}", "Content-type": "application/json"},
    )


def test_a_resent_step_is_stored_once(setup: Setup) -> None:
    assert _post(setup, _event("start", "resent")).status_code == 200
    again = _post(setup, _event("start", "resent"))  # a retried start: the same task
    first = {
        "step": 0,
        "metrics": {"dvclive/metrics.json": {"data": {"loss": 0.9}}},
        "plots": {"dvclive/plots/metrics/loss.tsv": {"data": [{"step": 0, "loss": 0.9}]}},
    }
    for _ in range(2):
        assert _post(setup, _event("data", "resent", **first)).status_code == 200
    # Step 1's answer was lost: step 2 carries its plot points again, and step 1's own.
    second = {
        "step": 2,
        "metrics": {"dvclive/metrics.json": {"data": {"loss": 0.5}}},
        "plots": {
            "dvclive/plots/metrics/loss.tsv": {
                "data": [
                    {"step": 0, "loss": 0.9},
                    {"step": 1, "loss": 0.7},
                    {"step": 2, "loss": 0.5},
                ]
            }
        },
    }
    answer = _post(setup, _event("data", "resent", **second))
    assert answer.status_code == 200
    task_id = answer.json()["task_id"]
    assert again.json()["task_id"] == task_id
    loss = _series(setup.bob, task_id)["loss"]["loss"]
    assert loss["x"] == [0, 1, 2] and loss["y"] == pytest.approx([0.9, 0.7, 0.5])
    for _ in range(2):
        done = _post(setup, _event("done", "resent"))
        assert done.status_code == 200 and done.json()["status"] == "completed"
    late = _post(setup, _event("data", "resent", step=3, metrics={}))
    assert late.status_code == 409


def test_done_with_errors_fails_the_task(setup: Setup) -> None:
    _post(setup, _event("start", "broken"))
    errors = [{"cls": "RuntimeError", "text": "CUDA out of memory"}]
    done = _post(setup, _event("done", "broken", errors=errors))
    assert done.json()["status"] == "failed"
    task = setup.bob.get(f"/tasks/{done.json()['task_id']}").json()
    assert task["status"] == "failed" and "CUDA out of memory" in task["status_reason"]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "stop", "repo_url": REMOTE, "baseline_sha": SHA},
        {"type": "start", "repo_url": REMOTE, "baseline_sha": "not-a-sha"},
        {"type": "data", "repo_url": REMOTE, "baseline_sha": SHA, "step": -1},
        {"type": "data", "repo_url": REMOTE, "baseline_sha": SHA, "metrics": {"f": 1}},
    ],
)
def test_bad_events_are_4xx_with_the_error_envelope(setup: Setup, body: dict[str, Any]) -> None:
    answer = _post(setup, body)
    assert 400 <= answer.status_code < 500
    assert set(answer.json()["error"]) >= {"code", "message"}


def test_done_for_an_unknown_experiment_is_not_found(setup: Setup) -> None:
    answer = _post(setup, _event("done", "never-started"))
    assert answer.status_code == 404
    assert "'never-started'" in answer.json()["error"]["message"]

"""The seeds' flow end to end: a run recorded locally is cloned, its draft edited and
enqueued, and a real agent process re-runs the unchanged script from git (with the
recorded uncommitted change) using the edited values."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import run_script, script_env, unique
from tunelab.sdk.transport import ApiClient

TRAIN = """
import argparse, json
from tunelab import Task
from values import OFFSET

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()

task = Task.init(project_name=PROJECT, task_name="train")
params = task.connect({"batch": 32, "opt": {"momentum": 0.9}})
model = task.connect_configuration({"depth": 18}, name="model")
logger = task.get_logger()
logger.report_scalar("seen", "lr", args.lr, iteration=0)
logger.report_scalar("seen", "batch", params["batch"], iteration=0)
logger.report_scalar("seen", "offset", OFFSET, iteration=0)
logger.report_scalar("seen", "depth", model["depth"], iteration=0)
for i in range(args.epochs):
    logger.report_scalar("loss", "train", args.lr / (i + 1), iteration=i)
print("TYPES " + json.dumps({"lr": type(args.lr).__name__, "batch": type(params["batch"]).__name__,
                             "momentum": type(params["opt"]["momentum"]).__name__}))
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


@pytest.fixture
def agent(api_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A real agent daemon serving a queue of its own."""
    queue = unique("e2e")
    with agent_daemon(api_url, tmp_path, queue) as proc:
        yield queue, proc


def _wait_status(client: ApiClient, task_id: str, statuses: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get_task(task_id)
        if task["status"] in statuses:
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} still {task['status']} after {timeout}s")


def _draft_from_repo(
    client: ApiClient, project: str, repo: Path, entry_point: str, script: str
) -> dict:
    """A draft whose code is ``script``, committed as ``entry_point`` in a new repository."""
    new_repo(repo, {entry_point: script})
    execution = {"repository": str(repo), "branch": "main", "entry_point": entry_point,
                 "working_dir": "."}  # fmt: skip
    return client.create_task(
        {"name": Path(entry_point).stem, "project": project, "status": "draft",
         "execution": execution}
    )  # fmt: skip


def _seen(client: ApiClient, task_id: str) -> dict[str, float]:
    metrics = client.get_metrics(task_id)["metrics"]
    return {variant: s["last"] for variant, s in metrics["seen"].items()}


def test_clone_edit_enqueue_and_an_agent_reruns_with_the_edits(
    api_url: str, client: ApiClient, tmp_path: Path, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    project = unique("e2e")
    repo = tmp_path / "repo"
    new_repo(repo, {"train.py": f"PROJECT = {project!r}\n{TRAIN}", "values.py": "OFFSET = 0\n"})
    (repo / "values.py").write_text("OFFSET = 1000\n")  # uncommitted: the agent must apply it

    local = run_script(repo / "train.py", script_env(api_url, tmp_path))
    assert local.returncode == 0, local.stderr
    original = client.list_tasks(project=project)["items"][0]
    assert _seen(client, original["id"]) == {"lr": 0.1, "batch": 32, "offset": 1000, "depth": 18}

    draft = client.clone_task(original["id"])
    assert draft["status"] == "draft" and draft["name"] == "Clone Of train"
    client.set_hyperparameters(
        draft["id"],
        {
            "Args": {"lr": {"value": "0.5", "type": "float", "description": ""}},
            "General": {"batch": {"value": "64", "type": "int", "description": ""}},
        },
    )
    client.set_configuration(
        draft["id"], {"model": {"type": "dictionary", "text": '{"depth": 50}', "description": ""}}
    )
    client.enqueue_task(draft["id"], queue=queue)

    done = _wait_status(client, draft["id"], {"completed", "failed", "stopped"}, timeout=180)
    console = "\n".join(x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"])
    assert done["status"] == "completed", console
    assert _seen(client, draft["id"]) == {"lr": 0.5, "batch": 64, "offset": 1000, "depth": 50}
    types = json.loads(next(x for x in console.splitlines() if x.startswith("TYPES "))[6:])
    assert types == {"lr": "float", "batch": "int", "momentum": "float"}
    loss = client.get_scalars(draft["id"], max_points=0)["metrics"]["loss"]["train"]
    assert loss["y"] == [0.5, 0.25]
    assert done["parent"] == original["id"] and done["worker"]
    # The environment is built without uv's warnings or deprecation notices.
    noise = [x for x in console.lower().splitlines() if "warning:" in x or "deprecat" in x]
    assert noise == [], console
    # The re-run records the agent's machine, and says where to look.
    assert done["runtime"]["host"] == socket.gethostname()
    assert done["runtime"]["python"] == platform.python_version()
    assert done["runtime"]["os_user"] == client.get_task(original["id"])["runtime"]["os_user"] != ""
    assert f"/experiments/{draft['id']}" in console

    unchanged = client.get_task(original["id"])
    assert unchanged["hyperparameters"]["Args"]["lr"]["value"] == "0.1"
    assert _seen(client, original["id"])["lr"] == 0.1


def test_stopping_a_running_task_runs_its_abort_callback(
    api_url: str, client: ApiClient, tmp_path: Path, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    project = unique("e2e-stop")
    repo = tmp_path / "repo"
    script = f"""
import time
from tunelab import Task
task = Task.init(project_name={project!r}, task_name="long")
task.register_abort_callback(lambda: print("checkpoint saved", flush=True))
logger = task.get_logger()
print("training", flush=True)
for i in range(100000):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
    time.sleep(0.01)
"""
    draft = _draft_from_repo(client, project, repo, "long.py", script)
    client.enqueue_task(draft["id"], queue=queue)
    _wait_status(client, draft["id"], {"running"}, timeout=120)
    deadline = time.monotonic() + 120
    while "training" not in [x["text"] for x in client.get_console(draft["id"])["lines"]]:
        assert time.monotonic() < deadline, "the script never started"
        time.sleep(0.2)
    client.stop_task(draft["id"])
    done = _wait_status(client, draft["id"], {"completed", "failed", "stopped"}, timeout=60)
    console = [x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"]]
    assert done["status"] == "stopped", console
    assert "checkpoint saved" in console
    assert client.get_metrics(draft["id"])["metrics"]["loss"]["train"]["count"] > 0


def test_a_failing_script_keeps_its_own_reason_under_the_agent(
    api_url: str, client: ApiClient, tmp_path: Path, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    project = unique("e2e-fail")
    repo = tmp_path / "repo"
    script = f"""
from tunelab import Task
Task.init(project_name={project!r}, task_name="bad")
raise ValueError("bad batch shape")
"""
    draft = _draft_from_repo(client, project, repo, "bad.py", script)
    client.enqueue_task(draft["id"], queue=queue)
    done = _wait_status(client, draft["id"], {"completed", "failed", "stopped"}, timeout=120)
    assert done["status"] == "failed"
    assert done["status_reason"] == "ValueError: bad batch shape"
    console = [x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"]]
    assert "ValueError: bad batch shape" in console  # the traceback arrived before the status

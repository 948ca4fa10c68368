"""A real script records a run through Task.init against the real server."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.errors import NotFound
from tunelab.sdk.transport import ApiClient

TRAIN = """
import argparse, sys
from tunelab import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--fast", action="store_true")
args = parser.parse_args()

task = Task.init(project_name=PROJECT, task_name="train", tags=["t1"])
params = task.connect({"batch": 32, "opt": {"momentum": 0.9, "nesterov": True}, "name": "sgd"})
config = task.connect_configuration({"layers": [64, 32], "act": "relu"}, name="model")
task.set_user_properties(owner="alice", run=7)
logger = task.get_logger()
for i in range(args.epochs * 10):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
    logger.report_scalar(title="loss", series="val", value=2.0 / (i + 1), iteration=i)
logger.report_single_value("accuracy", 0.93)
params["batch"] = 64
print("hello stdout")
print("hello stderr", file=sys.stderr)
logger.report_text("a log line")
"""


def _task_in(client: ApiClient, project: str) -> dict:
    found = client.list_tasks(project=project)
    assert found["total"] == 1, found
    return client.get_task(found["items"][0]["id"])


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_a_run_records_everything(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("sdk/run")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + TRAIN)
    result = run_script(script, script_env(api_url, tmp_path), "--lr", "0.5", "--fast")
    assert result.returncode == 0, result.stderr
    assert "hello stdout" in result.stdout  # still printed locally

    task = _task_in(client, project)
    assert task["status"] == "completed"
    assert task["started"] and task["completed"] >= task["started"]
    assert task["tags"] == ["t1"]
    args = task["hyperparameters"]["Args"]
    assert args["lr"] == {"value": "0.5", "type": "float", "description": "learning rate"}
    assert args["epochs"]["value"] == "3" and args["epochs"]["type"] == "int"
    assert args["fast"]["value"] == "True" and args["fast"]["type"] == "bool"
    general = task["hyperparameters"]["General"]
    assert general["opt/momentum"] == {"value": "0.9", "type": "float", "description": ""}
    assert general["opt/nesterov"]["type"] == "bool"
    assert general["batch"]["value"] == "64"  # the later change of the connected dict
    assert '"relu"' in task["configuration"]["model"]["text"]
    assert task["user_properties"]["owner"]["value"] == "alice"
    assert task["user_properties"]["run"]["type"] == "int"
    assert task["execution"]["entry_point"] == "train.py"
    assert task["runtime"]["python"].startswith(f"{sys.version_info.major}.")
    assert task["runtime"]["cpu_count"] >= 1

    metrics = client.get_metrics(task["id"])["metrics"]
    assert metrics["loss"]["train"]["last"] == pytest.approx(1 / 30)
    assert metrics["loss"]["val"]["max"] == pytest.approx(2.0)
    assert metrics["Summary"]["accuracy"]["last"] == pytest.approx(0.93)
    console = "\n".join(line["text"] for line in client.get_console(task["id"])["lines"])
    assert "hello stdout" in console and "hello stderr" in console and "a log line" in console


def test_reading_back_through_the_sdk(api_url: str, tmp_path: Path) -> None:
    from tunelab import Task

    project = unique("sdk/read")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + TRAIN)
    for _ in range(2):
        assert run_script(script, script_env(api_url, tmp_path)).returncode == 0
    newest = Task.get_task(project_name=project, task_name="train")
    both = Task.get_tasks(project_name=project, tags=["t1"])
    assert both[0].id == newest.id and len(both) == 2

    scalars = newest.get_reported_scalars()
    assert scalars["loss"]["train"]["x"] == list(range(30))
    assert scalars["loss"]["train"]["y"][0] == pytest.approx(1.0)
    last = newest.get_last_scalar_metrics()
    assert last["loss"]["val"] == {
        "last": pytest.approx(2 / 30),
        "min": pytest.approx(2 / 30),
        "max": 2.0,
    }
    assert "hello stdout" in newest.get_console_output()
    assert newest.get_parameters()["Args/lr"] == "0.1"
    assert newest.get_parameters_as_dict()["General"]["name"] == "sgd"
    assert newest.get_configuration_object("model") is not None
    assert newest.get_user_properties(value_only=True) == {"owner": "alice", "run": "7"}
    exported = newest.export_task()
    assert set(exported["execution"]) >= {
        "repository",
        "branch",
        "commit",
        "entry_point",
        "working_dir",
        "binary",
        "diff",
        "requirements",
        "original_requirements",
        "docker_image",
        "docker_arguments",
        "docker_setup_script",
        "output_uri",
    }
    assert {"parent", "status", "hyperparameters", "configuration", "user_properties"} <= set(
        exported
    )


def test_an_uncaught_exception_fails_the_task(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("sdk/fail")
    script = write_script(
        tmp_path / "code",
        f"""
        from tunelab import Task
        Task.init(project_name={project!r}, task_name="boom")
        def explode():
            raise ValueError("bad batch shape")
        explode()
        """,
    )
    result = run_script(script, script_env(api_url, tmp_path))
    assert result.returncode == 1
    task = _task_in(client, project)
    assert task["status"] == "failed"
    assert "ValueError: bad batch shape" in task["status_reason"]
    console = "\n".join(line["text"] for line in client.get_console(task["id"])["lines"])
    assert "Traceback (most recent call last)" in console and "explode()" in console


def test_sys_exit_nonzero_fails_the_task(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("sdk/exit")
    script = write_script(
        tmp_path / "code",
        f"""
        import sys
        from tunelab import Task
        Task.init(project_name={project!r}, task_name="exit")
        sys.exit(3)
        """,
    )
    assert run_script(script, script_env(api_url, tmp_path)).returncode == 3
    task = _task_in(client, project)
    assert (task["status"], task["status_reason"]) == ("failed", "exit code 3")


@pytest.mark.parametrize(
    ("sig", "reason"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")]
)
def test_a_signal_stops_the_task(
    api_url: str, client: ApiClient, tmp_path: Path, sig: signal.Signals, reason: str
) -> None:
    project = unique("sdk/stop")
    script = write_script(
        tmp_path / "code",
        f"""
        import time
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="long")
        logger = task.get_logger()
        logger.report_scalar("m", "v", -1, iteration=0)
        task.flush()  # a point is stored before the signal: it must stay
        print("ready", flush=True)
        for i in range(100000):
            logger.report_scalar("m", "v", i, iteration=i)
            time.sleep(0.01)
        """,
    )
    with subprocess.Popen(
        [sys.executable, str(script)],
        env=script_env(api_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: a test run started in the background (a CI job) ignores
        # SIGINT, and a child inherits that, so Ctrl-C would never reach the script.
        preexec_fn=_default_signals,
    ) as proc:
        assert proc.stdout is not None
        # After the line Task.init prints about the task.
        assert proc.stdout.readline().startswith("Tunelab: task ")
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    task = _task_in(client, project)
    assert task["status"] == "stopped", stderr
    assert reason in task["status_reason"]
    assert client.get_metrics(task["id"])["metrics"]["m"]["v"]["count"] > 0


def test_environment_variables_by_pattern(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("sdk/env")
    script = write_script(
        tmp_path / "code",
        f"""
        from tunelab import Task
        Task.init(project_name={project!r}, task_name="env")
        """,
    )
    env = script_env(
        api_url,
        tmp_path,
        TUNELAB_LOG_ENVIRONMENT="DATA_*,EXACT_ONE",
        DATA_ROOT="/data",
        DATA_SPLIT="train",
        EXACT_ONE="1",
        OTHER="no",
    )
    assert run_script(script, env).returncode == 0
    section = _task_in(client, project)["hyperparameters"]["Environment"]
    assert {k: v["value"] for k, v in section.items()} == {
        "DATA_ROOT": "/data",
        "DATA_SPLIT": "train",
        "EXACT_ONE": "1",
    }


def test_offline_session_syncs_as_one_task(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("sdk/offline")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + TRAIN)
    env = script_env(api_url, tmp_path, TUNELAB_OFFLINE="1")
    env["TUNELAB_API_URL"] = "http://127.0.0.1:9"  # nothing may be sent while offline
    result = run_script(script, env)
    assert result.returncode == 0, result.stderr
    assert "tunelab sync" in result.stderr
    sessions = list((tmp_path / ".tunelab" / "offline").iterdir())
    assert len(sessions) == 1, sessions
    with pytest.raises(NotFound):  # nothing reached the server: not even the project
        client.list_tasks(project=project)

    sync = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "sync", str(sessions[0])],
        env=script_env(api_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sync.returncode == 0, sync.stderr
    task = _task_in(client, project)
    assert task["status"] == "completed"
    assert task["hyperparameters"]["Args"]["lr"]["value"] == "0.1"
    assert client.get_metrics(task["id"])["metrics"]["loss"]["train"]["count"] == 30


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)

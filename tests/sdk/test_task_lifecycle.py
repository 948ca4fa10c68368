"""The SDK's lifecycle calls against the real server, and stopping a run that no agent owns."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab import Task
from tunelab.errors import Conflict
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _recorded(api_url: str, tmp_path: Path, project: str) -> Task:
    script = write_script(
        tmp_path / "code",
        f"""
        import argparse
        from tunelab import Task
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        parser.parse_args()
        task = Task.init(project_name={project!r}, task_name="base", tags=["x"])
        task.connect({{"batch": 32}})
        task.get_logger().report_scalar("loss", "train", 0.5, iteration=1)
        """,
    )
    assert run_script(script, script_env(api_url, tmp_path)).returncode == 0
    return Task.get_task(project_name=project, task_name="base")


def test_clone_edit_enqueue_dequeue_reset_publish(api_url: str, tmp_path: Path) -> None:
    project = unique("sdk-life")
    source = _recorded(api_url, tmp_path, project)

    draft = Task.clone(source, name="tuned", comment="lower lr")
    assert (draft.name, draft.status) == ("tuned", "draft")
    exported = draft.export_task()
    assert exported["parent"] == source.id and exported["comment"] == "lower lr"
    assert exported["tags"] == ["x"]
    assert draft.get_parameters()["Args/lr"] == "0.1"
    assert draft.get_last_scalar_metrics() == {}  # no outputs copied

    draft.set_parameters_as_dict({"Args": {"lr": 0.01}})
    assert Task.get_task(task_id=draft.id).get_parameters()["Args/lr"] == "0.01"
    queue = unique("q")
    assert Task.enqueue(draft, queue_name=queue)["status"] == "queued"
    with pytest.raises(Conflict, match="queued"):
        draft.set_parameters_as_dict({"Args": {"lr": 0.02}})  # only a draft is editable
    assert Task.dequeue(draft)["status"] == "draft"

    with pytest.raises(Conflict, match="completed or stopped"):
        draft.publish()
    source.reset()
    assert source.status == "draft"
    assert source.get_last_scalar_metrics() == {}
    assert source.get_parameters()["Args/lr"] == "0.1"  # inputs kept

    other = _recorded(api_url, tmp_path, unique("sdk-pub"))
    other.publish()
    assert other.status == "published"
    with pytest.raises(Conflict, match="published"):
        other.reset()
    with pytest.raises(Conflict, match="published"):
        other.set_user_properties(note="x")
    other.archive()
    assert other.export_task()["archived"] is True


def test_a_local_run_stopped_from_the_api_ends_stopped(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("sdk-stop")
    script = write_script(
        tmp_path / "code",
        f"""
        import time
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="local")
        task.register_abort_callback(lambda: print("checkpoint saved", flush=True))
        print("ready", flush=True)
        for i in range(3000):
            task.get_logger().report_scalar("m", "v", i, iteration=i)
            time.sleep(0.01)
        """,
    )
    with subprocess.Popen(
        [sys.executable, str(script)],
        env=script_env(api_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        # After the line Task.init prints about the task.
        assert proc.stdout.readline().startswith("Tunelab: task ")
        assert proc.stdout.readline().strip() == "ready"
        task_id = client.list_tasks(project=project)["items"][0]["id"]
        client.stop_task(task_id, reason="enough")
        started = time.monotonic()
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10  # seen within a few seconds, not at the end
    task = client.get_task(task_id)
    assert task["status"] == "stopped", err
    assert "checkpoint saved" in out


def test_execute_remotely_enqueues_and_exits(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project, queue = unique("sdk-remote"), unique("q")
    script = write_script(
        tmp_path / "code",
        f"""
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="later")
        task.connect({{"epochs": 3}})
        task.execute_remotely(queue_name={queue!r})
        print("this line runs only under an agent")
        """,
    )
    result = run_script(script, script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "runs only under an agent" not in result.stdout
    task = client.get_task(client.list_tasks(project=project)["items"][0]["id"])
    assert task["status"] == "queued" and task["queue"] == queue
    assert task["hyperparameters"]["General"]["epochs"]["value"] == "3"
    assert task["execution"]["entry_point"].endswith("train.py")


def test_a_closed_runs_task_is_edited_as_a_task_read_back(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    """After ``task.close()`` its edits raised "the reporter of task … is closed". They now
    go to the server at once: a comment is stored, and inputs get the server's own refusal
    (a completed task's inputs are not editable), as for ``Task.get_task(...)``."""
    project = unique("sdk/closed")
    body = f"""
        from tunelab import Task
        from tunelab.errors import Conflict
        task = Task.init(project_name={project!r}, task_name="closed")
        task.close()
        task.set_comment("written after the run")
        task.add_tags(["late"])
        try:
            task.connect({{"lr": 0.1}})
        except Conflict as exc:
            print("REFUSED", "only a draft's inputs" in str(exc))
        print("TASK", task.id)
    """
    result = run_script(write_script(tmp_path / "code", body), script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "REFUSED True" in result.stdout
    task = client.get_task(result.stdout.split("TASK ")[1].split()[0])
    assert (task["status"], task["comment"]) == ("completed", "written after the run")
    assert task["tags"] == ["late"] and task["hyperparameters"] == {}

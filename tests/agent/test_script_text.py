"""A script outside any git repository, or a notebook: the task records its text, and a real
agent re-runs a clone of it from that text (written into an empty directory) with the edited
values."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client import manager

from tests.agents import agent_daemon
from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess
from tests.waiting import final_status
from tunelab.sdk.transport import ApiClient

SCRIPT = """
import argparse
from tunelab import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args()

task = Task.init(project_name=PROJECT, task_name="plain")
task.get_logger().report_scalar("seen", "lr", args.lr, iteration=0)
print("LR", args.lr, type(args.lr).__name__)
"""


@pytest.fixture(scope="module")
def agent(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """One agent daemon for the module, serving a queue of its own."""
    queue = unique("no-git")
    with agent_daemon(server.url, tmp_path_factory.mktemp("agent"), queue) as proc:
        yield queue, proc


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_a_script_without_git_is_recorded_and_rerun_from_its_text(
    api_url: str, client: ApiClient, tmp_path: Path, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    project = unique("no-git")
    text = f"PROJECT = {project!r}\n{SCRIPT}"
    script = write_script(tmp_path / "plain", text)

    local = run_script(script, script_env(api_url, tmp_path))
    assert local.returncode == 0, local.stderr
    original = client.get_task(client.list_tasks(project=project)["items"][0]["id"])
    execution = original["execution"]
    assert execution["repository"] == execution["commit"] == ""
    assert execution["diff"] == text
    assert (execution["entry_point"], execution["working_dir"]) == ("train.py", ".")

    draft = client.clone_task(original["id"])
    assert draft["execution"]["diff"] == text
    client.set_hyperparameters(
        draft["id"], {"Args": {"lr": {"value": "0.5", "type": "float", "description": ""}}}
    )
    client.enqueue_task(draft["id"], queue=queue)

    done = final_status(client, draft["id"], timeout=180)
    console = "\n".join(x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"])
    assert done["status"] == "completed", console
    assert "LR 0.5 float" in console
    assert client.get_metrics(draft["id"])["metrics"]["seen"]["lr"]["last"] == 0.5
    assert "writing the task's script" in console


def test_a_notebook_cloned_runs_under_an_agent_as_its_py_export(
    api_url: str, client: ApiClient, tmp_path: Path, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    project = unique("notebook")
    env = script_env(api_url, tmp_path)
    env.pop("JPY_SESSION_NAME", None)
    km, kc = manager.start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        for cell in (
            "from tunelab import Task",
            f"task = Task.init(project_name={project!r}, task_name='nb')",
            "params = task.connect({'lr': 0.1})",
            "%matplotlib inline",
            "task.get_logger().report_scalar('seen', 'lr', params['lr'], iteration=0)",
            "task.close()",
        ):
            reply = kc.execute_interactive(cell, timeout=60, output_hook=lambda _msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    original = client.list_tasks(project=project)["items"][0]

    draft = client.clone_task(original["id"])
    assert draft["execution"]["entry_point"] == "notebook.py"
    client.set_hyperparameters(
        draft["id"], {"General": {"lr": {"value": "0.5", "type": "float", "description": ""}}}
    )
    client.enqueue_task(draft["id"], queue=queue)

    done = final_status(client, draft["id"], timeout=180)
    console = "\n".join(x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"])
    assert done["status"] == "completed", console
    assert client.get_metrics(draft["id"])["metrics"]["seen"]["lr"]["last"] == 0.5


def test_no_repository_and_no_text_is_a_clear_failure(
    client: ApiClient, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    draft = client.create_task(
        {"name": "empty", "project": unique("no-git"), "status": "draft",
         "execution": {"entry_point": "train.py", "working_dir": "."}}
    )  # fmt: skip
    client.enqueue_task(draft["id"], queue=queue)

    done = final_status(client, draft["id"], timeout=60)
    assert done["status"] == "failed"
    assert "records no repository" in done["status_reason"]


@pytest.mark.parametrize("entry_point", ["../escape.py", "/tmp/escape.py", "a/../../b.py"])
def test_an_entry_point_outside_the_work_dir_is_refused(tmp_path: Path, entry_point: str) -> None:
    from tunelab.agent.errors import AgentError
    from tunelab.agent.repository import write_script

    with pytest.raises(AgentError, match="outside"):
        write_script(tmp_path / "code", entry_point, "print(1)\n")
    assert not (tmp_path / "escape.py").exists()

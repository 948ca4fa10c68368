"""What the launcher tests share: the training script a task runs, its repository, a real
``tunelab launcher`` process, and drafts of the script with edited values."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitrepo import new_repo
from tests.scripts import unique
from tunelab.sdk.transport import ApiClient

# The script prints its key's prefix and MARKER (an expression naming where it runs), reports
# its learning rate, and waits for a file when told to, so a test can stop it mid-run.
_TRAIN = """
import argparse, os, pathlib, time
from tunelab import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--wait-for", default="")
args = parser.parse_args()
task = Task.init(project_name=PROJECT, task_name="train")
key = os.environ.get("TUNELAB_API_TOKEN", "")
print("KEY " + key[:4] + MARKER, flush=True)
task.get_logger().report_scalar("seen", "lr", args.lr, iteration=0)
print("training", flush=True)
while args.wait_for and not pathlib.Path(args.wait_for).exists():
    time.sleep(0.1)
"""


def training_repo(
    tmp_path_factory: pytest.TempPathFactory, name: str, marker: str
) -> tuple[Path, str]:
    """A git repository holding the training script, and the project its runs go to."""
    project = unique(name)
    path = tmp_path_factory.mktemp(f"{name}-repo") / "repo"
    script = _TRAIN.replace("MARKER", marker)
    new_repo(path, {"train.py": f"PROJECT = {project!r}\n{script}"})
    return path, project


def launcher_command(queue: str, backend: str, *options: str) -> list[str]:
    """``tunelab launcher`` for ``queue`` with quick checks and a short stop grace."""
    return [
        sys.executable, "-m", "tunelab.cli.main", "launcher", "--queue", queue,
        "--backend", backend, "--check-interval", "0.3", "--poll-timeout", "5",
        "--stop-grace", "2", *options,
    ]  # fmt: skip


@contextlib.contextmanager
def running(
    command: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[str]]:
    """``command`` as a process logging to ``log_path``; SIGTERM at the end (killed after 20 s)."""
    with open(log_path, "a") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()


def draft(
    client: ApiClient, repo: tuple[Path, str], name: str, image: str = "", **args: str
) -> str:
    """A draft running the repository's script with ``args`` as its edited values."""
    path, project = repo
    execution = {"repository": str(path), "branch": "main", "entry_point": "train.py",
                 "working_dir": ".", "docker_image": image}  # fmt: skip
    task = client.create_task({"name": name, "project": project, "execution": execution})
    params = {
        key: {"value": value, "type": "float" if key == "lr" else "str", "description": ""}
        for key, value in args.items()
    }
    client.set_hyperparameters(task["id"], {"Args": params})
    return str(task["id"])


def console_lines(client: ApiClient, task_id: str) -> list[str]:
    return [x["text"] for x in client.get_console(task_id, limit=10000)["lines"]]

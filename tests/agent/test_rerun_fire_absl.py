"""Python Fire and absl scripts recorded locally, cloned, edited through the API and enqueued:
a real agent re-runs the unchanged script from git, and the script sees the edited values
with their types (Fire's parsing, absl's flag parsers); absl's log lines reach the console."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import run_script, script_env, unique
from tests.services import ServerProcess
from tests.waiting import final_status
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.slow

FIRE = """
import json
import fire
from tunelab import Task


class BrokenCalculator(object):
    def __init__(self, offset=1):
        self._offset = offset

    def add(self, x, y):
        return self._show("add", x, y, x + y + self._offset)

    def multiply(self, x, y):
        return self._show("multiply", x, y, x * y + self._offset)

    def _show(self, command, x, y, result):
        types = [type(v).__name__ for v in (self._offset, x, y)]
        print("VALUES " + json.dumps([command, self._offset, x, y, types]), flush=True)
        return result


if __name__ == "__main__":
    Task.init(project_name=PROJECT, task_name="Fire class command")
    fire.Fire(BrokenCalculator)
"""

ABSL = """
import json

from absl import app
from absl import flags
from absl import logging

from tunelab import Task

FLAGS = flags.FLAGS

flags.DEFINE_string("echo", None, "Text to echo.")
flags.DEFINE_integer("epochs", 3, "How long.")
flags.DEFINE_float("lr", 0.1, "Learning rate.")
flags.DEFINE_bool("amp", False, "Mixed precision.")
flags.DEFINE_list("layers", ["conv", "fc"], "Layers.")

task = Task.init(project_name=PROJECT, task_name="Abseil example")


def main(_):
    logging.info("echo is %s.", FLAGS.echo)
    names = ["echo", "epochs", "lr", "amp", "layers"]
    print("VALUES " + json.dumps({n: [FLAGS[n].value, type(FLAGS[n].value).__name__]
                                  for n in names}), flush=True)


if __name__ == "__main__":
    app.run(main)
"""


@pytest.fixture(scope="module")
def queue(server: ServerProcess, home: Path) -> Iterator[str]:
    """One agent for the module; uv's package cache is the machine's (fire and absl-py are
    downloaded once)."""
    name = unique("fire-absl")
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    with agent_daemon(server.url, home, name, env={"UV_CACHE_DIR": uv_cache}):
        yield name


def _recorded(
    server: ServerProcess, client: ApiClient, home: Path, name: str, body: str, *args: str
) -> dict[str, Any]:
    """Run ``body`` committed as ``name`` in a new repository; the task it recorded."""
    project = unique(Path(name).stem)
    repo = new_repo(home / project, {name: f"PROJECT = {project!r}\n{body}"})
    local = run_script(repo / name, script_env(server.url, home), *args)
    assert local.returncode == 0, local.stderr
    return client.get_task(client.list_tasks(project=project)["items"][0]["id"])


def _rerun(client: ApiClient, queue: str, task: dict[str, Any], edits: dict[str, Any]) -> list[str]:
    """Clone ``task``, apply ``edits`` to its hyperparameters, enqueue; the re-run's console."""
    draft = client.clone_task(task["id"])
    client.set_hyperparameters(draft["id"], edits)
    client.enqueue_task(draft["id"], queue=queue)
    done = final_status(client, draft["id"], timeout=240)
    lines = [x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"]]
    assert done["status"] == "completed", "\n".join(lines)
    return lines


def _values(lines: list[str]) -> Any:
    return json.loads(next(x for x in lines if x.startswith("VALUES ")).removeprefix("VALUES "))


def _body(value: str, kind: str) -> dict[str, str]:
    return {"value": value, "type": kind, "description": ""}


def test_an_edited_fire_command_is_what_the_agent_runs(
    server: ServerProcess, client: ApiClient, home: Path, queue: str
) -> None:
    task = _recorded(server, client, home, "calc.py", FIRE, "add", "--x=1", "--y=2", "--offset=3")
    assert task["hyperparameters"]["Args"]["multiply/x"]["type"] == "NoneType"
    edits = {
        "Args": {
            "offset": _body("10", "int"),
            "add": _body("False", "bool"),
            "multiply": _body("True", "bool"),
            "multiply/x": _body("4", "NoneType"),
            "multiply/y": _body("0.5", "float"),
        }
    }
    lines = _rerun(client, queue, task, edits)
    assert _values(lines) == ["multiply", 10, 4, 0.5, ["int", "int", "float"]]


def test_edited_absl_flags_are_what_the_agent_runs_with(
    server: ServerProcess, client: ApiClient, home: Path, queue: str
) -> None:
    task = _recorded(server, client, home, "flags.py", ABSL, "--echo=hi", "--epochs=5")
    assert task["hyperparameters"]["TF_DEFINE"]["epochs"] == _body("5", "int") | {
        "description": "How long."
    }
    edits = {
        "TF_DEFINE": {
            "epochs": _body("7", "int"),
            "lr": _body("0.25", "float"),
            "amp": _body("True", "bool"),
            "layers": _body('["x", "y"]', "list"),
        }
    }
    lines = _rerun(client, queue, task, edits)
    assert _values(lines) == {
        "echo": ["hi", "str"],
        "epochs": [7, "int"],
        "lr": [0.25, "float"],
        "amp": [True, "bool"],
        "layers": [["x", "y"], "list"],
    }
    assert sum("echo is hi." in line for line in lines) == 1, lines

"""Python Fire capture: scripts shaped like ClearML's Fire examples, run against a real server,
record the called command's arguments (typed, named as ClearML names them) and none of Fire's
own flags; run as a stored task they get the stored values with Fire's types; with a Tunelab
Fire hook broken they print exactly what they print without it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.sdk.capture import faulty_hooks
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient

ROOT = Path(__file__).resolve().parents[3]

SINGLE = """
import json
import fire
from tunelab import Task


def hello(count, name="tunelab", prefix="prefix_", suffix="_suffix", **kwargs):
    for _ in range(count):
        print("Hello %s%s%s!" % (prefix, name, suffix))
    print("VALUES " + json.dumps({"count": [count, type(count).__name__],
                                  "name": [name, type(name).__name__], "kwargs": kwargs}))


if __name__ == "__main__":
    Task.init(project_name=PROJECT, task_name="Fire single command")
    fire.Fire(hello)
"""

CLASS = """
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
        print("VALUES " + json.dumps([command, self._offset, x, y, types]))
        return result


if __name__ == "__main__":
    Task.init(project_name=PROJECT, task_name="Fire class command")
    fire.Fire(BrokenCalculator)
"""

GROUPING = """
import logging
import fire
from tunelab import Task


class Other(object):
    def status(self):
        return "Other"


class IngestionStage(object):
    def __init__(self):
        self.other = Other()

    def run(self):
        return "Ingesting! Nom nom nom..."

    def hello(self, hello_str):
        print("VALUES", repr(hello_str))
        return hello_str


class DigestionStage(object):
    def run(self, volume=1):
        return " ".join(["Burp!"] * volume)

    def status(self):
        return "Satiated."


class Pipeline(object):
    def __init__(self):
        self.ingestion = IngestionStage()
        self.digestion = DigestionStage()
        self.log = logging.getLogger("pipeline")  # a library's object: no group of commands

    def run(self):
        self.ingestion.run()
        self.digestion.run()


if __name__ == "__main__":
    Task.init(project_name=PROJECT, task_name="Fire grouping command")
    fire.Fire(Pipeline)
"""

DICT = """
import fire
from tunelab import Task


def add(x, y):
    print("VALUES", x + y)
    return x + y


def multiply(x, y):
    print("VALUES", x * y)
    return x * y


if __name__ == "__main__":
    Task.init(project_name=PROJECT, task_name="Fire dict command")
    fire.Fire({"add": add, "multiply": multiply})
"""

MULTI = """
import fire
from tunelab import Task


def hello(count, name="tunelab"):
    for _ in range(count):
        print("Hello %s!" % name)


def serve(addr, port, should_serve=False):
    if not should_serve:
        print("VALUES Not serving")
    else:
        print("VALUES Serving on %s:%s" % (addr, port), type(port).__name__)


if __name__ == "__main__":
    Task.init(project_name=PROJECT, task_name="Fire multi command")
    fire.Fire()
"""

# A function whose Task.init runs inside the command: its arguments wait for the task.
INSIDE = """
import json
import fire
from tunelab import Task


def train(lr=0.1, epochs=2, tags=("a",)):
    Task.init(project_name=PROJECT, task_name="Fire inside")
    print("VALUES " + json.dumps([lr, epochs, list(tags), type(epochs).__name__]))


if __name__ == "__main__":
    fire.Fire(train)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _script(folder: Path, body: str) -> tuple[Path, str]:
    project = unique("fire")
    return write_script(folder, f"PROJECT = {project!r}\n{body}"), project


def _run(api_url: str, folder: Path, body: str, *args: str, **env: str) -> tuple[str, str]:
    """Run ``body``; (its stdout, its project)."""
    script, project = _script(folder, body)
    result = run_script(script, script_env(api_url, folder.parent, **env), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout, project


def _values(stdout: str) -> Any:
    line = next(x for x in stdout.splitlines() if x.startswith("VALUES "))
    return json.loads(line.removeprefix("VALUES "))


def _args(client: ApiClient, project: str) -> dict[str, list[str]]:
    task = client.list_tasks(project=project)["items"][0]
    section = client.get_task(task["id"])["hyperparameters"].get("Args", {})
    return {name: [body["value"], body["type"]] for name, body in section.items()}


def _stored(client: ApiClient, args: dict[str, tuple[str, str]]) -> str:
    """A draft whose Args are ``{name: (value, type)}``: what an edited clone holds."""
    body = {name: {"value": v, "type": t, "description": ""} for name, (v, t) in args.items()}
    task = client.create_task(
        {"name": "edited", "project": unique("fire-edited"), "status": "draft",
         "hyperparameters": {"Args": body}}
    )  # fmt: skip
    return str(task["id"])


def test_a_function_records_its_arguments_typed_without_fires_own_flags(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    stdout, project = _run(api_url, tmp_path / "code", SINGLE, "2", "--name=fire", "--extra=1",
                           "--", "--verbose")  # fmt: skip
    assert stdout.count("Hello prefix_fire_suffix!") == 2
    assert _args(client, project) == {
        "count": ["2", "int"],
        "name": ["fire", "str"],
        "prefix": ["prefix_", "str"],
        "suffix": ["_suffix", "str"],
        "extra": ["1", "int"],
    }


def test_a_class_records_the_command_its_arguments_and_the_other_commands(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    stdout, project = _run(api_url, tmp_path / "code", CLASS, "add", "--x=1", "--y=2.5",
                           "--offset=3")  # fmt: skip
    assert _values(stdout) == ["add", 3, 1, 2.5, ["int", "int", "float"]]
    assert _args(client, project) == {
        "offset": ["3", "int"],
        "add": ["True", "bool"],
        "add/x": ["1", "int"],
        "add/y": ["2.5", "float"],
        "multiply": ["False", "bool"],
        "multiply/x": ["", "NoneType"],
        "multiply/y": ["", "NoneType"],
    }


def test_groups_dicts_and_module_functions_name_their_commands(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    stdout, project = _run(
        api_url, tmp_path / "g", GROUPING, "ingestion", "hello", "--hello_str=hi"
    )
    assert "VALUES 'hi'" in stdout
    assert _args(client, project) == {
        "ingestion.hello": ["True", "bool"],
        "ingestion.hello/hello_str": ["hi", "str"],
        "run": ["False", "bool"],
        "ingestion.run": ["False", "bool"],
        "ingestion.other.status": ["False", "bool"],
        "digestion.run": ["False", "bool"],
        "digestion.run/volume": ["1", "int"],
        "digestion.status": ["False", "bool"],
    }

    stdout, project = _run(api_url, tmp_path / "d", DICT, "multiply", "3", "4")
    assert "VALUES 12" in stdout
    assert _args(client, project) == {
        "multiply": ["True", "bool"],
        "multiply/x": ["3", "int"],
        "multiply/y": ["4", "int"],
        "add": ["False", "bool"],
        "add/x": ["", "NoneType"],
        "add/y": ["", "NoneType"],
    }

    stdout, project = _run(api_url, tmp_path / "m", MULTI, "serve", "localhost", "8080")
    assert "VALUES Not serving" in stdout
    assert _args(client, project) == {  # the script's own functions only, not what it imported
        "serve": ["True", "bool"],
        "serve/addr": ["localhost", "str"],
        "serve/port": ["8080", "int"],
        "serve/should_serve": ["False", "bool"],
        "hello": ["False", "bool"],
        "hello/count": ["", "NoneType"],
        "hello/name": ["tunelab", "str"],
    }


def test_arguments_parsed_before_task_init_wait_for_the_task(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    stdout, project = _run(api_url, tmp_path / "code", INSIDE, "--lr=0.5", "--tags=[x, y]")
    assert _values(stdout) == [0.5, 2, ["x", "y"], "int"]
    assert _args(client, project) == {
        "lr": ["0.5", "float"],
        "epochs": ["2", "int"],
        "tags": ['["x", "y"]', "list"],
    }


def test_stored_values_reach_the_stored_command_with_their_types(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id = _stored(
        client,
        {
            "offset": ("10", "int"),
            "add": ("False", "bool"),
            "add/x": ("1", "int"),
            "add/y": ("2", "int"),
            "multiply": ("True", "bool"),
            "multiply/x": ("4", "NoneType"),  # never run: typed by Fire's parsing
            "multiply/y": ("0.5", "float"),
        },
    )
    stdout, _ = _run(api_url, tmp_path / "c", CLASS, "add", "--x=1", "--y=2",
                     TUNELAB_TASK_ID=task_id)  # fmt: skip
    assert _values(stdout) == ["multiply", 10, 4, 0.5, ["int", "int", "float"]]
    recorded = client.get_task(task_id)["hyperparameters"]["Args"]
    assert recorded["multiply/x"]["value"] == "4" and recorded["multiply/x"]["type"] == "int"

    # A text that reads as a number stays the text it was recorded as.
    task_id = _stored(client, {"count": ("1", "int"), "name": ("7", "str"), "prefix": ("", "str"),
                               "suffix": ("!", "str")})  # fmt: skip
    stdout, _ = _run(api_url, tmp_path / "s", SINGLE, "3", TUNELAB_TASK_ID=task_id)
    assert _values(stdout) == {"count": [1, "int"], "name": ["7", "str"], "kwargs": {}}
    assert stdout.count("Hello 7!!") == 1


def test_stored_commands_in_groups_and_module_functions_are_the_ones_run(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id = _stored(client, {"ingestion.run": ("False", "bool"),
                               "ingestion.hello": ("True", "bool"),
                               "ingestion.hello/hello_str": ("edited", "str")})  # fmt: skip
    stdout, _ = _run(api_url, tmp_path / "g", GROUPING, "run", TUNELAB_TASK_ID=task_id)
    assert "VALUES 'edited'" in stdout

    task_id = _stored(client, {"hello": ("False", "bool"), "serve": ("True", "bool"),
                               "serve/addr": ("example.org", "str"), "serve/port": ("9000", "int"),
                               "serve/should_serve": ("true", "bool")})  # fmt: skip
    stdout, _ = _run(api_url, tmp_path / "m", MULTI, "hello", "1", TUNELAB_TASK_ID=task_id)
    assert "VALUES Serving on example.org:9000 int" in stdout


# Each Tunelab Fire hook, broken, and the stored values the run gets (None: a local run).
FAULTS = {
    "install": ("install_fire", None),
    "capture": ("call_parameters", None),
    "fire's parser": ("ignore_parser", None),
    "inject": ("fire_command_line", {"add": ("True", "bool"), "add/x": ("5", "int"),
                                     "add/y": ("6", "int")}),
}  # fmt: skip
FAULT_ARGS = ["add", "--x=1", "--y=2"]


@pytest.fixture(scope="module")
def plain(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """What the script prints with nothing broken (Tunelab's announcement left out)."""
    folder = tmp_path_factory.mktemp("fire-plain")
    script, _ = _script(folder / "code", CLASS)
    result = _run_wrapped(script, script_env(server.url, folder), [], FAULT_ARGS)
    assert result.returncode == 0, result.stderr
    return [x for x in result.stdout.splitlines() if not x.startswith("Tunelab: task ")]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_broken_fire_hook_leaves_the_script_output_unchanged(
    api_url: str, client: ApiClient, tmp_path: Path, fault: str, plain: list[str]
) -> None:
    attribute, stored = FAULTS[fault]
    script, _ = _script(tmp_path / "code", CLASS)
    # With a stored task, the values that would have replaced the command line's.
    extra = {"TUNELAB_TASK_ID": _stored(client, stored)} if stored else {}
    env = script_env(api_url, tmp_path, **extra)
    broken = _run_wrapped(script, env, [("tunelab.sdk.capture.fire_args", attribute)], FAULT_ARGS)
    assert broken.returncode == 0, broken.stderr
    assert [x for x in broken.stdout.splitlines() if not x.startswith("Tunelab: task ")] == plain
    assert _values(broken.stdout)[:4] == ["add", 1, 1, 2]
    assert faulty_hooks.FAULT in broken.stderr and "tunelab: could not capture" in broken.stderr


def _run_wrapped(
    script: Path, env: dict[str, str], hooks: list[tuple[str, str]], args: list[str]
) -> subprocess.CompletedProcess[str]:
    """The script under tests/sdk/capture/faulty_hooks.py with exactly ``hooks`` broken."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.sdk.capture import faulty_hooks as f\n"
        f"f.BROKEN[:] = {hooks!r}\n"
        "f.main(sys.argv[1:])\n"
    )
    command = [sys.executable, "-c", code, "--broken", str(script), *args]
    return subprocess.run(
        command, cwd=script.parent, env=env, capture_output=True, text=True, timeout=60
    )

"""absl flags capture: a script shaped like ClearML's absl example, run against a real server,
records the flags it defines (typed, none of absl's own) in ``TF_DEFINE``; run as a stored
task it reads the stored values, whether ``app.run`` or ``FLAGS(sys.argv)`` parses; absl's
log lines reach the task's console once; with a Tunelab absl hook broken it prints exactly
what it prints without it."""

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

FLAGS_DEFINED = """
import json
import sys

from absl import app
from absl import flags
from absl import logging

from tunelab import Task

FLAGS = flags.FLAGS

flags.DEFINE_string("echo", None, "Text to echo.")
flags.DEFINE_string("another_str", "My string", "A string", module_name="test")
flags.DEFINE_integer("epochs", 3, "How long.", lower_bound=0)
flags.DEFINE_float("lr", 0.1, "Learning rate.")
flags.DEFINE_bool("amp", False, "Mixed precision.")
flags.DEFINE_enum("opt", "sgd", ["sgd", "adam"], "Optimizer.")
flags.DEFINE_list("layers", ["conv", "fc"], "Layers.")
flags.DEFINE_multi_integer("sizes", [1, 2], "Sizes.")
NAMES = ["echo", "another_str", "epochs", "lr", "amp", "opt", "layers", "sizes"]


def show():
    print("VALUES " + json.dumps({n: [FLAGS[n].value, type(FLAGS[n].value).__name__]
                                  for n in NAMES}))
"""

APP_RUN = (
    FLAGS_DEFINED
    + """
task = Task.init(project_name=PROJECT, task_name="Abseil example")


def main(_):
    print("Running under Python {0[0]}.{0[1]}".format(sys.version_info), file=sys.stderr)
    logging.info("echo is %s.", FLAGS.echo)
    logging.warning("epochs is %s.", FLAGS.epochs)
    logging.error("lr is %s.", FLAGS.lr)
    show()


if __name__ == "__main__":
    app.run(main)
"""
)

# Parsing by hand, Task.init after it: the flags wait for the task.
CALL = (
    FLAGS_DEFINED
    + """
rest = FLAGS(sys.argv)
Task.init(project_name=PROJECT, task_name="Abseil by hand")
show()
"""
)

# Tunelab imported inside main, once app.run has parsed the flags.
LATE = """
import json
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 3, "How long.")


def main(_):
    from tunelab import Task

    Task.init(project_name=PROJECT, task_name="Abseil late")
    print("VALUES " + json.dumps({"epochs": [FLAGS.epochs, type(FLAGS.epochs).__name__]}))


if __name__ == "__main__":
    app.run(main)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _script(folder: Path, body: str) -> tuple[Path, str]:
    project = unique("absl")
    return write_script(folder, f"PROJECT = {project!r}\n{body}"), project


def _run(
    api_url: str, folder: Path, body: str, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    script, project = _script(folder, body)
    result = run_script(script, script_env(api_url, folder.parent, **env), *args)
    assert result.returncode == 0, result.stderr
    return result, project


def _values(stdout: str) -> Any:
    line = next(x for x in stdout.splitlines() if x.startswith("VALUES "))
    return json.loads(line.removeprefix("VALUES "))


def _task(client: ApiClient, project: str) -> dict[str, Any]:
    return client.get_task(client.list_tasks(project=project)["items"][0]["id"])


def _section(task: dict[str, Any]) -> dict[str, list[str]]:
    section = task["hyperparameters"].get("TF_DEFINE", {})
    return {name: [b["value"], b["type"], b["description"]] for name, b in section.items()}


def _stored(client: ApiClient, flags: dict[str, tuple[str, str]]) -> str:
    body = {name: {"value": v, "type": t, "description": ""} for name, (v, t) in flags.items()}
    task = client.create_task(
        {"name": "edited", "project": unique("absl-edited"), "status": "draft",
         "hyperparameters": {"TF_DEFINE": body}}
    )  # fmt: skip
    return str(task["id"])


RECORDED = {
    "echo": ["hi", "str", "Text to echo."],
    "another_str": ["My string", "str", "A string"],
    "epochs": ["5", "int", "How long."],
    "lr": ["0.1", "float", "Learning rate."],
    "amp": ["True", "bool", "Mixed precision."],
    "opt": ["adam", "enum", "<sgd|adam>: Optimizer."],  # the help as absl's --help shows it
    "layers": ['["conv", "fc"]', "list", "Layers."],
    "sizes": ["[1, 2]", "list", "Sizes.;\n    repeat this option to specify a list of values"],
}


@pytest.mark.parametrize("body", [APP_RUN, CALL], ids=["app.run", "FLAGS(argv)"])
def test_the_scripts_flags_are_recorded_typed_in_tf_define(
    api_url: str, client: ApiClient, tmp_path: Path, body: str
) -> None:
    result, project = _run(api_url, tmp_path / "code", body, "--echo=hi", "--epochs", "5",
                           "--amp", "--opt=adam", "--verbosity=0")  # fmt: skip
    assert _values(result.stdout)["epochs"] == [5, "int"]
    task = _task(client, project)
    assert _section(task) == RECORDED  # absl's own flags (verbosity, logtostderr…) are not
    assert "Args" not in task["hyperparameters"]


def test_flags_parsed_before_tunelab_is_imported_are_recorded(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    result, project = _run(api_url, tmp_path / "code", LATE, "--epochs=5")
    assert _values(result.stdout) == {"epochs": [5, "int"]}
    assert _section(_task(client, project)) == {"epochs": ["5", "int", "How long."]}


def test_stored_values_are_read_by_the_script_with_their_types(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    stored = {
        "echo": ("edited", "NoneType"),
        "epochs": ("7", "int"),
        "lr": ("0.25", "float"),
        "amp": ("false", "bool"),
        "opt": ("sgd", "enum"),
        "layers": ('["a", "b", "c"]', "list"),
        "sizes": ("[8]", "list"),
    }
    expected = {
        "echo": ["edited", "str"],
        "another_str": ["My string", "str"],
        "epochs": [7, "int"],
        "lr": [0.25, "float"],
        "amp": [False, "bool"],
        "opt": ["sgd", "str"],
        "layers": [["a", "b", "c"], "list"],
        "sizes": [[8], "list"],
    }
    for body in (APP_RUN, CALL):
        task_id = _stored(client, stored)
        result, _ = _run(api_url, tmp_path / "code", body, "--amp", "--opt=adam",
                         TUNELAB_TASK_ID=task_id)  # fmt: skip
        assert _values(result.stdout) == expected


def test_a_stored_value_that_does_not_parse_is_absls_usage_error(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    script, _ = _script(tmp_path / "code", APP_RUN)
    env = script_env(api_url, tmp_path, TUNELAB_TASK_ID=_stored(client, {"epochs": ("-3", "int")}))
    result = run_script(script, env)
    assert result.returncode == 1
    assert "epochs" in result.stderr and "VALUES" not in result.stdout


def test_absl_log_lines_reach_the_console_exactly_once(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    result, project = _run(api_url, tmp_path / "code", APP_RUN, "--echo=hi")
    lines = [
        x["text"] for x in client.get_console(_task(client, project)["id"], limit=1000)["lines"]
    ]
    for text in ("echo is hi.", "epochs is 3.", "lr is 0.1."):
        assert sum(text in line for line in lines) == 1, lines
        assert sum(text in line for line in result.stderr.splitlines()) == 1, result.stderr
    assert sum("Running under Python" in line for line in lines) == 1


# Each Tunelab absl hook, broken, and the stored values the run gets (None: a local run).
FAULTS = {
    "install": ("install_absl_flags", None),
    "capture": ("flag_parameters", None),
    "logging": ("follow_stderr", None),
    "inject": ("stored_flags_argv", {"epochs": ("9", "int")}),
}


@pytest.fixture(scope="module")
def plain(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[str], list[str]]:
    """What the script prints, (stdout, stderr), with nothing broken."""
    folder = tmp_path_factory.mktemp("absl-plain")
    script, _ = _script(folder / "code", APP_RUN)
    result = _run_wrapped(script, script_env(server.url, folder), [], ["--echo=hi"])
    assert result.returncode == 0, result.stderr
    return _own(result.stdout), _own(result.stderr)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_broken_absl_hook_leaves_the_script_output_unchanged(
    api_url: str,
    client: ApiClient,
    tmp_path: Path,
    fault: str,
    plain: tuple[list[str], list[str]],
) -> None:
    attribute, stored = FAULTS[fault]
    script, _ = _script(tmp_path / "code", APP_RUN)
    # With a stored task, the values that would have replaced the command line's.
    extra = {"TUNELAB_TASK_ID": _stored(client, stored)} if stored else {}
    env = script_env(api_url, tmp_path, **extra)
    broken = _run_wrapped(
        script, env, [("tunelab.sdk.capture.absl_flags", attribute)], ["--echo=hi"]
    )
    assert broken.returncode == 0, broken.stderr
    assert (_own(broken.stdout), _own(broken.stderr)) == plain
    assert _values(broken.stdout)["epochs"] == [3, "int"]
    assert faulty_hooks.FAULT in broken.stderr and "tunelab: could not capture" in broken.stderr


def _own(text: str) -> list[str]:
    """The script's lines: without Tunelab's own, and absl's time stamps and thread ids."""
    return [
        line.split("] ", 1)[-1]
        for line in text.splitlines()
        if not line.startswith(("Tunelab: task ", "tunelab: could not capture "))
    ]


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

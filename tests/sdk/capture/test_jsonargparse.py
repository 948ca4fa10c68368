"""jsonargparse capture: real scripts (``ArgumentParser``, ``CLI`` of a function and of a class)
run against a real server record their final values in ``Args``, take the stored ones with
their types when run as a stored task, and print the same with every hook failing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.transport import ApiClient

# FAULT names a Tunelab part made to raise before the script imports anything of its own:
# "install" (patching jsonargparse), "capture" (reading the parsed values), "inject" (turning
# the stored values into a command line).
FAULTS = """
import os
if os.environ.get("FAULT"):
    import tunelab.sdk.capture.jsonargparse_args as hooks

    def fail(*args, **kwargs):
        raise RuntimeError("forced fault")

    target = {"install": "hook_jsonargparse", "capture": "jsonargparse_parameters",
              "inject": "command_line"}[os.environ["FAULT"]]
    setattr(hooks, target, fail)
"""

PARSER = """
import json
from typing import Optional
from jsonargparse import ActionConfigFile, ArgumentParser
from tunelab import Task

class Model:
    def __init__(self, hidden: int = 4, act: str = "tanh", dropout: Optional[float] = None,
                 sizes: list = [1, 2]):
        pass

parser = ArgumentParser()
parser.add_argument("--config", action=ActionConfigFile)
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--amp", type=bool, default=False)
parser.add_class_arguments(Model, "model")
cfg = parser.parse_args()       # before Task.init, as scripts usually do
Task.init(project_name=PROJECT, task_name="parser")
print("VALUES " + json.dumps({k: [v, type(v).__name__] for k, v in cfg.items() if k != "config"}))
"""

CLI_CLASS = """
import json
from jsonargparse import CLI
from tunelab import Task

Task.init(project_name=PROJECT, task_name="calc")

class Calc:
    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def add(self, a: int, b: int = 2):
        print("VALUES " + json.dumps(["add", self.scale * (a + b), type(a).__name__]))

    def mul(self, a: int, b: int = 2):
        print("VALUES " + json.dumps(["mul", self.scale * a * b, type(a).__name__]))

CLI(Calc)
"""

CLI_FUNCTION = """
import json
from tunelab import Task        # before jsonargparse: patched when it is imported
from jsonargparse import CLI

def main(lr: float = 0.1, epochs: int = 1, name: str = "run"):
    Task.init(project_name=PROJECT, task_name="function")
    print("VALUES " + json.dumps([lr, epochs, name, type(epochs).__name__]))

CLI(main)
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _run(api_url: str, folder: Path, body: str, *args: str, **env: str) -> tuple[Any, str, str]:
    """Run ``body`` (a script of project PROJECT); (printed VALUES, its project, stderr)."""
    project = unique("jsonargparse")
    script = write_script(folder, f"PROJECT = {project!r}\n{FAULTS}\n{body}")
    result = run_script(script, script_env(api_url, folder.parent, **env), *args)
    assert result.returncode == 0, result.stderr
    if not env.get("FAULT"):
        assert "tunelab: could not capture" not in result.stderr, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("VALUES "))
    return json.loads(line.removeprefix("VALUES ")), project, result.stderr


def _args(client: ApiClient, project: str) -> dict[str, list[str]]:
    task = client.list_tasks(project=project)["items"][0]
    section = client.get_task(task["id"])["hyperparameters"].get("Args", {})
    return {name: [b["value"], b["type"], b["description"]] for name, b in section.items()}


def _stored(client: ApiClient, args: dict[str, tuple[str, str]]) -> str:
    """A draft whose Args are ``{name: (value, type)}``: what an edited clone holds."""
    body = {name: {"value": v, "type": t, "description": ""} for name, (v, t) in args.items()}
    task = client.create_task(
        {"name": "edited", "project": unique("jsonargparse-edited"), "status": "draft",
         "hyperparameters": {"Args": body}}
    )  # fmt: skip
    return str(task["id"])


def test_parser_records_the_merged_config_file_and_command_line_values(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "cfg.yaml").write_text("lr: 0.5\nmodel:\n  act: relu\n  sizes: [3, 4]\n")
    values, project, _ = _run(api_url, code, PARSER, "--config", "cfg.yaml", "--model.hidden", "16")
    assert values == {
        "lr": [0.5, "float"],
        "amp": [False, "bool"],
        "model.hidden": [16, "int"],
        "model.act": ["relu", "str"],
        "model.dropout": [None, "NoneType"],
        "model.sizes": [[3, 4], "list"],
    }
    # Exactly jsonargparse's keys: argparse's own hook saw no half-parsed namespace.
    assert _args(client, project) == {
        "config": ['["cfg.yaml"]', "jsonargparse_path", "Path to a configuration file."],
        "lr": ["0.5", "float", "learning rate"],
        "amp": ["False", "bool", ""],
        "model.hidden": ["16", "int", ""],
        "model.act": ["relu", "str", ""],
        "model.dropout": ["", "NoneType", ""],
        "model.sizes": ["[3, 4]", "list", ""],
    }


def test_parser_takes_the_stored_values_with_their_types(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id = _stored(
        client,
        {
            "config": ('["elsewhere.yaml"]', "jsonargparse_path"),  # not read again
            "lr": ("0.75", "float"),
            "amp": ("True", "bool"),
            "model.hidden": ("64", "int"),
            "model.dropout": ("0.25", "NoneType"),
            "model.sizes": ("[8]", "list"),
        },
    )
    values, _, _ = _run(
        api_url, tmp_path / "code", PARSER, "--model.hidden", "3", TUNELAB_TASK_ID=task_id
    )
    assert values == {
        "lr": [0.75, "float"],
        "amp": [True, "bool"],
        "model.hidden": [64, "int"],
        "model.act": ["tanh", "str"],  # not stored: the script's default
        "model.dropout": [0.25, "float"],
        "model.sizes": [[8], "list"],
    }
    task = client.get_task(task_id)
    assert task["status"] == "completed"
    args = task["hyperparameters"]["Args"]
    assert args["model.act"]["value"] == "tanh"  # added: the task did not have it
    assert args["config"]["value"] == '["elsewhere.yaml"]'  # kept, though not read again
    assert args["model.dropout"] == {"value": "0.25", "type": "NoneType", "description": ""}


def test_a_stored_value_of_the_wrong_type_is_the_parsers_usage_error(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id = _stored(client, {"model.hidden": ("lots", "int")})
    script = write_script(tmp_path / "code", f"PROJECT = 'x'\n{PARSER}")
    result = run_script(script, script_env(api_url, tmp_path, TUNELAB_TASK_ID=task_id))
    assert result.returncode == 2, result.stderr
    assert "model.hidden" in result.stderr and "lots" in result.stderr


def test_cli_of_a_class_records_and_takes_its_subcommand(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    values, project, _ = _run(api_url, tmp_path / "code", CLI_CLASS, "--scale", "2", "add", "3")
    assert values == ["add", 10.0, "int"]
    recorded = {name: value[:2] for name, value in _args(client, project).items()}
    assert recorded == {
        "config": ["", "jsonargparse_path"],
        "scale": ["2.0", "float"],
        "subcommand": ["add", "jsonargparse.Command"],
        "add.config": ["", "jsonargparse_path"],
        "add.a": ["3", "int"],
        "add.b": ["2", "int"],
    }

    task_id = _stored(
        client,
        {"scale": ("3", "float"), "subcommand": ("mul", "jsonargparse.Command"),
         "mul.a": ("5", "int"), "mul.b": ("2", "int")},
    )  # fmt: skip
    values, _, _ = _run(api_url, tmp_path / "again", CLI_CLASS, TUNELAB_TASK_ID=task_id)
    assert values == ["mul", 30.0, "int"]


def test_cli_of_a_function_records_and_takes_its_parameters(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    values, project, _ = _run(api_url, tmp_path / "code", CLI_FUNCTION, "--epochs", "3")
    assert values == [0.1, 3, "run", "int"]
    recorded = {name: value[:2] for name, value in _args(client, project).items()}
    assert recorded == {
        "config": ["", "jsonargparse_path"],
        "lr": ["0.1", "float"],
        "epochs": ["3", "int"],
        "name": ["run", "str"],
    }
    task_id = _stored(client, {"epochs": ("7", "int"), "name": ("edited", "str")})
    values, _, _ = _run(api_url, tmp_path / "again", CLI_FUNCTION, TUNELAB_TASK_ID=task_id)
    assert values == [0.1, 7, "edited", "int"]


@pytest.mark.parametrize("fault", ["install", "capture", "inject"])
def test_a_failing_hook_leaves_the_scripts_output_unchanged(
    api_url: str, client: ApiClient, tmp_path: Path, fault: str
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "cfg.yaml").write_text("lr: 0.5\n")
    command_line = ("--config", "cfg.yaml", "--model.hidden", "16")
    expected, _, _ = _run(api_url, code, PARSER, *command_line)
    # Under a stored task too: a stored command line that cannot be built leaves the script's.
    task_id = _stored(client, {"model.hidden": ("64", "int")}) if fault == "inject" else ""
    values, _, stderr = _run(
        api_url, code, PARSER, *command_line, FAULT=fault, TUNELAB_TASK_ID=task_id
    )
    assert values == expected
    assert "tunelab: could not capture" in stderr and "forced fault" in stderr


SUBCLASSES = """
import json
from jsonargparse import ActionConfigFile, ArgumentParser
from tunelab import Task

class Base:
    pass

class Wide(Base):
    def __init__(self, width: int = 1, act: str = "relu"):
        self.width, self.act = width, act

class Every:
    def __init__(self, steps: int = 1):
        self.steps = steps

parser = ArgumentParser()
parser.add_argument("--config", action=ActionConfigFile)
parser.add_argument("--model", type=Base)
parser.add_argument("--callbacks", type=list[Every], default=[])
built = parser.instantiate(parser.parse_args())
Task.init(project_name=PROJECT, task_name="subclasses")
print("VALUES " + json.dumps([type(built.model).__name__, built.model.width,
                              type(built.model.width).__name__,
                              [c.steps for c in built.callbacks]]))
"""

SUBCLASS_CONFIG = """
model:
  class_path: __main__.Wide
  init_args:
    width: 5
callbacks:
  - class_path: __main__.Every
    init_args:
      steps: 3
"""


def test_class_path_and_init_args_are_recorded_and_taken_back(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "model.yaml").write_text(SUBCLASS_CONFIG)
    values, project, _ = _run(api_url, code, SUBCLASSES, "--config", "model.yaml")
    assert values == ["Wide", 5, "int", [3]]
    recorded = {name: value[:2] for name, value in _args(client, project).items()}
    callbacks = [{"class_path": "__main__.Every", "init_args": {"steps": 3}}]
    assert recorded == {
        "config": ['["model.yaml"]', "jsonargparse_path"],
        "model.class_path": ["__main__.Wide", "str"],
        "model.init_args.width": ["5", "int"],
        "model.init_args.act": ["relu", "str"],
        "callbacks": [json.dumps(callbacks), "jsonargparse_namespace"],
    }
    callbacks[0]["init_args"]["steps"] = 7
    task_id = _stored(
        client,
        {"model.class_path": ("__main__.Wide", "str"), "model.init_args.width": ("9", "int"),
         "callbacks": (json.dumps(callbacks), "jsonargparse_namespace")},
    )  # fmt: skip
    values, _, _ = _run(api_url, tmp_path / "again", SUBCLASSES, TUNELAB_TASK_ID=task_id)
    assert values == ["Wide", 9, "int", [7]]


HALF_PARSE = """
import argparse, json
from jsonargparse import ArgumentParser, Namespace
from jsonargparse._common import parser_context
from jsonargparse._typehints import ActionTypeHint
from tunelab import Task

parser = ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
# argparse's own pass over a jsonargparse parser (as jsonargparse runs it inside parse_args),
# before config files and type hints apply.
with parser_context(parent_parser=parser), ActionTypeHint.subclass_arg_context(parser):
    half, _ = argparse.ArgumentParser.parse_known_args(parser, ["--lr", "0.3"], Namespace())
Task.init(project_name=PROJECT, task_name="half")
print("VALUES " + json.dumps(half.lr))
"""


def test_argparses_hook_records_nothing_of_a_jsonargparse_parsers_inner_pass(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    values, project, _ = _run(api_url, tmp_path / "code", HALF_PARSE)
    assert values == 0.3
    assert _args(client, project) == {}

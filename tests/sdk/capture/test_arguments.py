"""argparse and click capture, in real script processes that print what the hooks saw as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

# Each script gets OVERRIDES (a dict or None) and a report(params, values) that prints JSON.
PREAMBLE = """\
import argparse, dataclasses, json, os, sys
import click
from tunelab.sdk.capture import (
    argparse_parameters, click_parameters, current_click_parameters, hook_argparse, hook_click,
)
OVERRIDES = json.loads(os.environ.get("OVERRIDES", "null"))
captured = []

def report(values):
    params = {p.name: [p.value, p.type, p.description] for p in captured[-1]}
    print(json.dumps({"params": params, "values": values, "calls": len(captured)}, default=str))
"""

ARGPARSE_TRAIN = """
def on_parsed(parser, namespace):
    captured.append(argparse_parameters(parser, namespace))

hook_argparse(on_parsed, override=lambda parser, namespace: OVERRIDES)
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default: %(default)s)")
parser.add_argument("--epochs", type=int, default=10, help="passes over the data")
parser.add_argument("--name", default="run")
parser.add_argument("--amp", action="store_true", help="mixed precision")
parser.add_argument("--no-shuffle", dest="shuffle", action="store_false")
parser.add_argument("--layers", type=int, nargs="+", default=[64, 32])
parser.add_argument("--tag", action="append")
parser.add_argument("--seed", type=int)
parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
parser.add_argument("-v", "--verbose", action="count", default=0)
parser.add_argument("--version", action="version", version="1.0")
parser.add_argument("data", help="dataset folder")
args = parser.parse_args()
report(vars(args))
"""

ARGPARSE_SUBCOMMANDS = """
hook_argparse(lambda parser, namespace: captured.append(argparse_parameters(parser, namespace)))
parser = argparse.ArgumentParser()
parser.add_argument("--debug", action="store_true")
commands = parser.add_subparsers(dest="command", help="what to do")
train = commands.add_parser("train", aliases=["fit"])
train.add_argument("--lr", type=float, default=0.1, help="learning rate")
evaluate = commands.add_parser("eval")
evaluate.add_argument("--split", default="test")
report(vars(parser.parse_args()))
"""

CLICK_TRAIN = """
hook_click(lambda ctx: captured.append(click_parameters(ctx)), override=lambda ctx: OVERRIDES)

@click.command()
@click.option("--lr", type=float, default=0.1, help="learning rate")
@click.option("--epochs", default=10, help="passes over the data")
@click.option("--name", default="run")
@click.option("--amp/--no-amp", default=False, help="mixed precision")
@click.option("--layer", "layers", multiple=True, type=int, default=[64, 32])
@click.option("--size", nargs=2, type=int, default=(224, 224))
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd")
@click.option("--seed", type=int)
@click.argument("data")
def main(**values):
    report(values)

main()
"""

CLICK_GROUP = """
hook_click(lambda ctx: captured.append(click_parameters(ctx)), override=lambda ctx: OVERRIDES)

@click.group()
@click.option("--debug/--no-debug", default=False)
def cli(debug):
    pass

@cli.command()
@click.option("--lr", type=float, default=0.1)
def train(lr):
    captured[:] = [current_click_parameters()]
    report({"lr": lr})

cli()
"""


def run(tmp_path: Path, body: str, *argv: str, overrides: Any = None, code: int = 0) -> Any:
    script = tmp_path / "script.py"
    script.write_text(PREAMBLE + textwrap.dedent(body))
    env = {"OVERRIDES": json.dumps(overrides), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script), *argv], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout) if code == 0 else done.stderr


def test_argparse_defaults_with_types_and_help(tmp_path: Path) -> None:
    out = run(tmp_path, ARGPARSE_TRAIN, "data/")

    assert out["params"] == {
        "lr": ["0.1", "float", "learning rate (default: 0.1)"],
        "epochs": ["10", "int", "passes over the data"],
        "name": ["run", "str", ""],
        "amp": ["False", "bool", "mixed precision"],
        "shuffle": ["True", "bool", ""],
        "layers": ["[64, 32]", "list", ""],
        "tag": ["", "list", ""],
        "seed": ["", "int", ""],
        "optimizer": ["sgd", "str", ""],
        "verbose": ["0", "int", ""],
        "data": ["data/", "str", "dataset folder"],
    }
    assert out["calls"] == 1


def test_argparse_given_values(tmp_path: Path) -> None:
    argv = ["--lr", "0.5", "--epochs", "3", "--amp", "--no-shuffle", "--layers", "8", "4", "2"]
    argv += ["--tag", "a", "--tag", "b", "--seed", "7", "-vv", "--name", "x y", "/data"]

    params = run(tmp_path, ARGPARSE_TRAIN, *argv)["params"]

    given = {name: value for name, (value, _, _) in params.items()}
    assert given == {
        "lr": "0.5",
        "epochs": "3",
        "name": "x y",
        "amp": "True",
        "shuffle": "False",
        "layers": "[8, 4, 2]",
        "tag": '["a", "b"]',
        "seed": "7",
        "optimizer": "sgd",
        "verbose": "2",
        "data": "/data",
    }


def test_argparse_subcommand_arguments_are_captured_once(tmp_path: Path) -> None:
    out = run(tmp_path, ARGPARSE_SUBCOMMANDS, "--debug", "fit", "--lr", "0.3")

    assert out["params"] == {
        "debug": ["True", "bool", ""],
        "command": ["fit", "str", "what to do"],
        "lr": ["0.3", "float", "learning rate"],
    }
    assert out["calls"] == 1
    assert run(tmp_path, ARGPARSE_SUBCOMMANDS, "eval")["params"]["split"] == ["test", "str", ""]


def test_argparse_overrides_are_cast_to_what_the_script_expects(tmp_path: Path) -> None:
    overrides = {
        "lr": "0.7",
        "epochs": "3",
        "amp": "true",
        "shuffle": "0",
        "layers": "[8, 4]",
        "tag": "[a, b]",
        "seed": "",
        "name": "",
        "verbose": "2",
        "optimizer": "adam",
        "unknown": "ignored",
    }

    out = run(tmp_path, ARGPARSE_TRAIN, "--seed", "1", "data/", overrides=overrides)

    assert out["values"] == {
        "lr": 0.7,
        "epochs": 3,
        "name": "",
        "amp": True,
        "shuffle": False,
        "layers": [8, 4],
        "tag": ["a", "b"],
        "seed": None,
        "optimizer": "adam",
        "verbose": 2,
        "data": "data/",
    }
    assert out["params"]["lr"] == ["0.7", "float", "learning rate (default: 0.1)"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"epochs": "many"}, "argument epochs"), ({"optimizer": "rmsprop"}, "not one of")],
)
def test_argparse_bad_override_is_a_usage_error(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    stderr = run(tmp_path, ARGPARSE_TRAIN, "data/", overrides=overrides, code=2)

    assert "usage:" in stderr and message in stderr


def test_a_failing_callback_does_not_stop_the_script(tmp_path: Path) -> None:
    body = """
    def broken(parser, namespace):
        raise RuntimeError("capture bug")

    hook_argparse(broken)
    hook_argparse(broken)
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    captured.append([])
    report(vars(parser.parse_args(["--lr", "2"])))
    """
    assert run(tmp_path, body)["values"] == {"lr": 2.0}


def test_hooking_twice_patches_once_and_remembers_the_last_parse(tmp_path: Path) -> None:
    body = """
    from tunelab.sdk.capture import last_argparse, unhook_argparse

    hook_argparse(lambda parser, namespace: captured.append("replaced"))
    hook_argparse(lambda parser, namespace: captured.append(argparse_parameters(parser, namespace)))
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.parse_args(["--lr", "2"])
    last_parser, last_namespace = last_argparse()
    unhook_argparse()
    parser.parse_args(["--lr", "3"])
    report({"lr": last_namespace.lr, "same": last_parser is parser, "after": last_argparse()})
    """
    out = run(tmp_path, body)

    assert out == {
        "params": {"lr": ["2.0", "float", ""]},
        "values": {"lr": 2.0, "same": True, "after": None},
        "calls": 1,
    }


def test_click_defaults_with_types_and_help(tmp_path: Path) -> None:
    out = run(tmp_path, CLICK_TRAIN, "data/")

    assert out["params"] == {
        "lr": ["0.1", "float", "learning rate"],
        "epochs": ["10", "int", "passes over the data"],
        "name": ["run", "str", ""],
        "amp": ["False", "bool", "mixed precision"],
        "layers": ["[64, 32]", "list", ""],
        "size": ["[224, 224]", "list", ""],
        "optimizer": ["sgd", "str", ""],
        "seed": ["", "int", ""],
        "data": ["data/", "str", ""],
    }


def test_click_given_values(tmp_path: Path) -> None:
    argv = ["--lr", "0.5", "--epochs", "3", "--amp", "--layer", "8", "--layer", "4"]
    argv += ["--size", "32", "16", "--optimizer", "adam", "--seed", "7", "/data"]

    params = run(tmp_path, CLICK_TRAIN, *argv)["params"]

    given = {name: value for name, (value, _, _) in params.items()}
    assert given == {
        "lr": "0.5",
        "epochs": "3",
        "name": "run",
        "amp": "True",
        "layers": "[8, 4]",
        "size": "[32, 16]",
        "optimizer": "adam",
        "seed": "7",
        "data": "/data",
    }


def test_click_overrides_reach_the_command(tmp_path: Path) -> None:
    overrides = {
        "lr": "0.25",
        "epochs": "4",
        "amp": "yes",
        "layers": "[1, 2, 3]",
        "size": "[32, 32]",
        "optimizer": "adam",
        "seed": "",
        "name": "",
        "data": "/elsewhere",
    }

    out = run(tmp_path, CLICK_TRAIN, "--seed", "3", "data/", overrides=overrides)

    assert out["values"] == {
        "lr": 0.25,
        "epochs": 4,
        "name": "",
        "amp": True,
        "layers": [1, 2, 3],
        "size": [32, 32],
        "optimizer": "adam",
        "seed": None,
        "data": "/elsewhere",
    }
    assert out["params"]["layers"] == ["[1, 2, 3]", "list", ""]


def test_click_bad_override_is_a_usage_error(tmp_path: Path) -> None:
    stderr = run(tmp_path, CLICK_TRAIN, "data/", overrides={"epochs": "many"}, code=2)

    assert "Invalid value" in stderr and "many" in stderr


def test_click_group_names_subcommand_parameters_by_path(tmp_path: Path) -> None:
    out = run(tmp_path, CLICK_GROUP, "--debug", "train", "--lr", "0.3")

    assert out["params"] == {"debug": ["True", "bool", ""], "train/lr": ["0.3", "float", ""]}

    overridden = run(tmp_path, CLICK_GROUP, "train", overrides={"train/lr": "0.9", "lr": "5"})
    assert overridden["values"] == {"lr": 0.9}

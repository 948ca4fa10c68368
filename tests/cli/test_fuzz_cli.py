"""A property-based fuzz of the CLI: every command that works on a server's things, or on a
server's accounts, run with hostile arguments and options (Hypothesis, in-process with
click's runner against the session's real server).

The commands are read from the CLI itself, so a new one is fuzzed the next time this runs.
Each starts from real things (a draft task with a parameter, a model, a queue, a project),
and Hypothesis swaps arguments for hostile text (traversal, huge or negative numbers,
markup, a 5,000-character string) and adds options with hostile values. What a user relies
on: a clear message and an exit code of 0, 1 or 2, never a traceback.

Left out: the commands that run until stopped (server, agent, launcher, optimize), and those
that read or write a location the arguments name (db backup, sync, the importers), whose
paths and URLs are each command's own tests' business. CI runs a few examples per command
with fixed seeds; ``TUNELAB_FUZZ_EXAMPLES`` and ``TUNELAB_FUZZ_SEED`` make a longer run.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import strategies as st

from tests.fuzzing import examples, fuzz
from tests.scripts import unique
from tunelab.cli import main
from tunelab.sdk.transport import ApiClient

EXAMPLES = examples(8)
LEFT_OUT = frozenset(
    {"server", "agent", "launcher", "optimize", "db", "sync", "import"}
)  # the first word of a command
# Options that name a server or database: the fuzz keeps the ones it was given.
KEPT_OPTIONS = frozenset({"data_dir", "database_url"})

HOSTILE_TEXT = st.sampled_from(
    [
        "", " ", ".", "..", "../../../etc/passwd", "/", "a/../../b", "-", "--", "-1", "0",
        "99999999999999999999999", "1e309", "nan", "true", "null", "a,b,,c", "=", "a=b=c",
        "Args/lr", "Args/lr=", "/lr=1", "💥", "<script>alert(1)</script>", "' OR 1=1 --",
        "x" * 5_000, "\n", "status:running", "-last_update", "metrics.loss/val.last",
    ]
)  # fmt: skip
TEXT = st.one_of(HOSTILE_TEXT, st.text(st.characters(codec="utf-8"), max_size=30))
NUMBER = st.one_of(st.integers(-(2**70), 2**70).map(str), HOSTILE_TEXT)


@dataclass
class Things:
    """Real things for the arguments, made fresh for each command."""

    task: str
    model: str
    queue: str
    project: str


def _commands() -> list[tuple[str, click.Command]]:
    main._register()
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, words: list[str]) -> None:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, [*words, name])
        elif words[0] not in LEFT_OUT:
            found.append((" ".join(words), command))

    walk(main.cli, [])
    return found


@pytest.fixture
def runner(api_url: str, tmp_path: Path) -> Iterator[CliRunner]:
    """The shell of a user of the session's server; a folder of its own for account files."""
    env = {"TUNELAB_API_URL": api_url, "HOME": str(tmp_path), "TUNELAB_API_TOKEN": ""}
    env["TUNELAB_DATA_DIR"] = str(tmp_path / "data")
    old = Path.cwd()
    os.chdir(tmp_path)  # a command that saves a file saves it here
    try:
        yield CliRunner(env=env)
    finally:
        os.chdir(old)


def _argument(name: str, things: Things, command: str) -> str:
    """A real value for the argument ``name`` of ``command``, where there is one."""
    if name == "task_id" or name == "controller_id":
        return things.task
    if name == "model_id":
        return things.model
    if name == "name":
        return things.queue if command.startswith("queue") else things.project
    if name == "assignments":
        return "Args/lr=0.5"
    return "x"


def _value(param: click.Parameter, data: st.DataObject) -> str:
    kind = param.type
    if isinstance(kind, click.Choice) and data.draw(st.booleans()):
        return str(data.draw(st.sampled_from(list(kind.choices)), label=param.name))
    if isinstance(kind, click.types._NumberParamTypeBase):
        return data.draw(NUMBER, label=param.name)
    return data.draw(TEXT, label=param.name)


def _argv(
    words: str, command: click.Command, things: Things, data: st.DataObject, tmp: Path
) -> list[str]:
    argv = words.split()
    for param in command.params:
        if isinstance(param, click.Argument):
            count = param.nargs if param.nargs > 0 else 1
            for _ in range(count):
                real = _argument(str(param.name), things, words)
                hostile = data.draw(st.integers(0, 2), label=f"hostile {param.name}") == 0
                argv.append(data.draw(TEXT, label=str(param.name)) if hostile else real)
        elif isinstance(param, click.Option) and param.name not in KEPT_OPTIONS:
            if data.draw(st.integers(0, 2), label=f"use {param.name}") != 0:
                continue
            flag = max(param.opts, key=len)
            if param.is_flag:
                argv.append(flag)
            else:
                argv += [flag, _value(param, data)]
    if "data_dir" in {p.name for p in command.params}:
        argv += ["--data-dir", str(tmp / "data")]
    return argv


def _check(argv: list[str], result: Result) -> None:
    said = f"tunelab {' '.join(repr(a) for a in argv)}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{said}: raised {result.exception!r}") from result.exception
    assert result.exit_code in (0, 1, 2), f"{said}: exit {result.exit_code}\n{result.output}"
    assert "Traceback (most recent call last)" not in result.output, f"{said}\n{result.output}"


def _run(
    runner: CliRunner,
    words: str,
    command: click.Command,
    things: Things,
    tmp: Path,
    data: st.DataObject,
) -> None:
    argv = _argv(words, command, things, data, tmp)
    _check(argv, runner.invoke(main.cli, argv, input="", catch_exceptions=True))


def test_every_command_meets_hostile_arguments_with_a_message_never_a_traceback(
    client: ApiClient, runner: CliRunner, tmp_path: Path
) -> None:
    commands = _commands()
    assert len(commands) >= 35, f"only {len(commands)} commands found: the walk broke"
    failures: list[str] = []
    sent = 0
    started = time.monotonic()
    for words, command in commands:
        try:
            things = _fresh(client)
            run = functools.partial(_run, runner, words, command, things, tmp_path)
            sent += fuzz(words, EXAMPLES, run)
        except (Exception, BaseExceptionGroup) as exc:
            notes = "\n".join(getattr(exc, "__notes__", ()))
            failures.append(f"tunelab {words}:\n{exc}\n{notes}")
    print(f"fuzzed {len(commands)} commands with {sent} runs in {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)


def _fresh(client: ApiClient) -> Things:
    """A draft task with a parameter, its model, a queue, in a project of their own."""
    project = unique("cli-fuzz")
    params = {"Args": {"lr": {"value": "0.1", "type": "float"}}}
    task = client.create_task({"name": "fuzzed", "project": project, "hyperparameters": params})
    model = client.create_model({"name": "fuzzed-model", "project": project, "task_id": task["id"]})
    queue = unique("cli-fuzz-q")
    client.create_queue(queue)
    return Things(task["id"], model["id"], queue, project)

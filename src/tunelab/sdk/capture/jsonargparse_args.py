"""jsonargparse (``ArgumentParser``, ``CLI``) and LightningCLI arguments as ``Args`` parameters.

jsonargparse subclasses argparse but parses its own way: a ``--config`` file, nested keys,
type hints, sub-commands. ``hook_jsonargparse`` wraps ``jsonargparse.ArgumentParser.parse_args``
(which ``CLI`` and LightningCLI call) and records the final, merged values, named as jsonargparse
names them: ``Args/model.hidden``, ``Args/lr``; the chosen sub-command as ``Args/subcommand`` and
its arguments under its name (``Args/fit.trainer.max_epochs``), as ClearML records them::

    when_imported("jsonargparse", lambda module: hook_jsonargparse(module, record, override))

Under an agent, ``override`` returns the stored ``Args``: the parser then parses them as its
command line, so each value takes the argument's own type (``"64"`` becomes the ``int`` the
model's ``hidden: int`` asks for) and a value that does not fit is the parser's usage error.
The config file is not read again: its values, edited or not, are among the stored ones.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tunelab.domain.task import SECTION_ARGS, Parameter
from tunelab.sdk.capture_warnings import guard
from tunelab.sdk.parameters import type_name, value_text

# The names and types ClearML gives the values that are not plain data.
SUBCOMMAND = "subcommand"
COMMAND_TYPE = "jsonargparse.Command"
NAMESPACE_TYPE = "jsonargparse_namespace"
PATH_TYPE = "jsonargparse_path"

WHAT = "the jsonargparse arguments"
# What a re-run needs installed to parse as this run did (jsonargparse[signatures]).
REQUIRED_MODULES = ("jsonargparse", "docstring_parser", "typeshed_client")

Bodies = Mapping[str, Mapping[str, str]]
Record = Callable[[list[Parameter]], None]
Override = Callable[[Any], Bodies | None]


class _Hook:
    original: Any = None
    record: Record | None = None
    override: Override | None = None


_hook = _Hook()
_depth = threading.local()


def hook_jsonargparse(module: ModuleType, record: Record, override: Override | None) -> None:
    """Wrap ``module.ArgumentParser.parse_args`` (``module`` is ``jsonargparse``) once."""
    _hook.record, _hook.override = record, override
    parser_class = module.ArgumentParser
    if _hook.original is None:
        _hook.original = parser_class.parse_args
        parser_class.parse_args = _parse_args


def unhook_jsonargparse(module: ModuleType) -> None:
    if _hook.original is not None:
        module.ArgumentParser.parse_args = _hook.original
    _hook.original = _hook.record = _hook.override = None


def _parse_args(self: Any, args: Any = None, namespace: Any = None, **kwargs: Any) -> Any:
    original = _hook.original
    # Sub-commands and class arguments parse again from inside: only the outermost call counts.
    depth = getattr(_depth, "value", 0)
    stored: Bodies = {}
    if depth == 0:
        stored = _stored_values(self) or {}
        argv = _stored_command_line(self, stored) if stored else None
        args = args if argv is None else argv
    _depth.value = depth + 1
    try:
        parsed = original(self, args, namespace, **kwargs)
    finally:
        _depth.value = depth
    if depth == 0 and _hook.record is not None:
        _send(self, parsed, stored)
    return parsed


@guard(WHAT)
def _stored_values(parser: Any) -> Bodies | None:
    return _hook.override(parser) if _hook.override is not None else None


@guard(WHAT)
def _stored_command_line(parser: Any, stored: Bodies) -> list[str]:
    return command_line(stored, layout(parser))


@guard(WHAT)
def _send(parser: Any, parsed: Any, stored: Bodies) -> None:
    # A re-run keeps the stored values as they are (the config file it did not read again
    # included) and adds only what the task did not have.
    found = [p for p in jsonargparse_parameters(parser, parsed) if p.name not in stored]
    if _hook.record is not None and found:
        _hook.record(found)
    _require_packages()


def _require_packages() -> None:
    # A LightningCLI script never imports jsonargparse itself, so the scan of its imports
    # misses it; a re-run needs it, with what its type-hint support (``signatures``) uses.
    from tunelab.sdk.task import Task  # the task module imports this one's importer

    task = Task.current_task()
    if task is not None:
        task._require_packages(set(REQUIRED_MODULES))


def jsonargparse_parameters(parser: Any, namespace: Any) -> list[Parameter]:
    """Every final value of ``namespace`` (a jsonargparse ``Namespace``), nested keys joined
    with ``.``; config-file paths as paths, nested namespaces (``class_path``/``init_args``)
    as JSON, the sub-command as its name."""
    helps = dict(_actions(parser))
    config_keys = set(layout(parser).config_keys())
    found = []
    for key, value in namespace.items():
        if key.startswith("__"):  # jsonargparse's own bookkeeping (__default_config__…)
            continue
        if key.split(".")[-1] == SUBCOMMAND:
            kind, text = COMMAND_TYPE, value_text(value)
        elif key in config_keys or _is_path(value):
            kind, text = PATH_TYPE, value_text(_plain(value))
        elif _is_namespace(value):
            kind, text = NAMESPACE_TYPE, value_text(_plain(value))
        else:
            plain = _plain(value)
            kind, text = type_name(plain), value_text(plain)
        found.append(Parameter(SECTION_ARGS, key, text, kind, helps.get(key, "")))
    return found


@dataclass(frozen=True)
class Layout:
    """One parser's arguments by key (``model.hidden``), and its sub-commands' layouts."""

    options: frozenset[str] = frozenset()
    positionals: tuple[str, ...] = ()  # in the order the command line gives them
    configs: frozenset[str] = frozenset()  # ``ActionConfigFile`` arguments
    subcommands: Mapping[str, Layout] = field(default_factory=dict)

    def is_option(self, key: str) -> bool:
        # A nested key also belongs to its parent's option (``model.init_args.hidden``).
        return any(key == o or key.startswith(f"{o}.") for o in self.options)

    def config_keys(self, prefix: str = "") -> Iterator[str]:
        yield from (f"{prefix}{key}" for key in self.configs)
        for name, below in self.subcommands.items():
            yield from below.config_keys(f"{prefix}{name}.")


def layout(parser: Any) -> Layout:
    options, positionals, configs = set(), [], set()
    for action in getattr(parser, "_actions", []):
        kind = type(action).__name__
        if kind in _NOT_VALUES or action.dest == argparse.SUPPRESS:
            continue
        if kind == "ActionConfigFile":
            configs.add(action.dest)
        elif action.option_strings:
            options.add(action.dest)
        else:
            positionals.append(action.dest)
    subcommands = {name: layout(sub) for name, sub in _subcommands(parser)}
    return Layout(frozenset(options), tuple(positionals), frozenset(configs), subcommands)


# Actions that hold no value of the run: help, version, --print_config, the sub-command choice.
_NOT_VALUES = frozenset(
    {"_HelpAction", "_VersionAction", "_ActionPrintConfig", "ActionSubCommands", "ActionFail"}
)


def command_line(bodies: Bodies, parser_layout: Layout) -> list[str]:
    """The command line that parses to the stored values: each level's options and
    positionals, then its sub-command's name and arguments (``--lr=0.5 fit --trainer.x=2``).
    Config files are left out (their values are among the stored ones), and so are names
    the parser does not know (another parser's, or added by hand)."""

    def level(here: Layout, prefix: str) -> list[str]:
        argv = []
        for name, body in bodies.items():
            key = name[len(prefix) :]
            if name.startswith(prefix) and key not in here.configs and here.is_option(key):
                argv.append(f"--{key}={_argument_text(body)}")
        argv += [_argument_text(bodies[f"{prefix}{key}"]) for key in here.positionals
                 if f"{prefix}{key}" in bodies]  # fmt: skip
        chosen = bodies.get(f"{prefix}{SUBCOMMAND}", {}).get("value", "")
        if chosen in here.subcommands:
            argv += [chosen, *level(here.subcommands[chosen], f"{prefix}{chosen}.")]
        return argv

    return level(parser_layout, "")


def _argument_text(body: Mapping[str, str]) -> str:
    value = body.get("value", "")
    # None is recorded as "" (value_text); on a jsonargparse command line it is "null".
    return "null" if value == "" and body.get("type") == "NoneType" else value


def _actions(parser: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(key, help) for each argument, sub-commands' included."""
    for action in getattr(parser, "_actions", []):
        help_text = (
            action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else ""
        )
        yield f"{prefix}{action.dest}", help_text
    for name, sub in _subcommands(parser):
        yield from _actions(sub, f"{prefix}{name}.")


def _subcommands(parser: Any) -> list[tuple[str, Any]]:
    action = getattr(parser, "_subcommands_action", None)
    choices = getattr(action, "choices", None) or {}
    return list(choices.items())


def _is_namespace(value: Any) -> bool:
    from jsonargparse import Namespace

    return _all_of(value, Namespace)


def _is_path(value: Any) -> bool:
    from jsonargparse import Path  # type: ignore[attr-defined]  # exported, not in __all__

    return _all_of(value, Path)


def _all_of(value: Any, kind: type) -> bool:
    items = value if isinstance(value, list) and value else [value]
    return all(isinstance(item, kind) for item in items)


def _plain(value: Any) -> Any:
    """Namespaces as dicts, paths as the text they were given as; the rest unchanged."""
    from jsonargparse import Namespace, Path  # type: ignore[attr-defined]

    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Namespace):
        return _plain(value.as_dict())
    if isinstance(value, Path):
        return str(value)  # relative, as the command line or config file gave it
    if value is not None and not isinstance(value, bool | int | float | str):
        try:  # something JSON cannot hold (an enum, a class): as its text
            json.dumps(value)
        except (TypeError, ValueError):
            return str(value)
    return value

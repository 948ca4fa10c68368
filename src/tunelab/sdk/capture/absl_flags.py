"""absl flags as ``TF_DEFINE`` parameters, the stored ones injected under an agent, and absl's
log lines on the task's console.

Once ``FLAGS`` is parsed (``app.run(main)`` or ``FLAGS(sys.argv)``), every flag the script
and its libraries define is recorded in ``TF_DEFINE``, as ClearML records them, typed as the
flag is (``int``, ``float``, ``bool``, ``str``, ``enum``, ``list``), with its help as the
description; absl's own flags (``--verbosity``, ``--logtostderr``, ``--flagfile``…) are left
out::

    when_imported("absl.flags", lambda module: install_absl_flags(module, record, override))
    when_imported("absl.logging", follow_stderr)

Under an agent, ``override`` returns the stored flags; they are put on the command line absl
parses, before the script reads ``FLAGS``, so each value is checked and typed by the flag's own
parser (a bound, an enum's choices), and a value that does not fit is absl's usage error.

absl's log handler keeps the ``sys.stderr`` it found when absl was imported, usually before
``Task.init`` tees it: ``follow_stderr`` makes it write to the ``sys.stderr`` of the moment,
so each log line reaches the console, and is printed, once.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from tunelab.domain.task import SECTION_TF_DEFINE, Parameter
from tunelab.sdk.capture_warnings import guard
from tunelab.sdk.parameters import parse_bool, parse_list, type_name, value_text

WHAT = "the absl flags"

Bodies = Mapping[str, Mapping[str, str]]
Record = Callable[[list[Parameter]], None]
Override = Callable[[], Bodies | None]

# absl's flag types (``Flag.flag_type()``) by the names Tunelab types parameters with.
_TYPES = {"string": "str", "int": "int", "float": "float", "bool": "bool"}


class _Hook:
    original: Any = None
    flags: Any = None
    record: Record | None = None
    override: Override | None = None


_hook = _Hook()


def install_absl_flags(module: ModuleType, record: Record, override: Override | None) -> None:
    """Wrap ``FlagValues.__call__`` (the parse) once; ``module`` is ``absl.flags``."""
    _hook.record, _hook.override, _hook.flags = record, override, module.FLAGS
    if _hook.original is None:
        _hook.original = module.FlagValues.__call__
        module.FlagValues.__call__ = _parse
    if module.FLAGS.is_parsed():  # Tunelab imported inside ``main``, after app.run parsed
        _record_flags(module.FLAGS)


def _parse(self: Any, argv: Sequence[str], known_only: bool = False) -> list[str]:
    ours = self is _hook.flags  # the process's FLAGS, not a library's private FlagValues
    stored = _stored_argv(self, argv) if ours else None
    remaining: list[str] = _hook.original(self, argv if stored is None else stored, known_only)
    if ours:
        _record_flags(self)
    return remaining


@guard(WHAT)
def _stored_argv(flag_values: Any, argv: Sequence[str]) -> list[str] | None:
    bodies = _hook.override() if _hook.override is not None else None
    if not bodies or isinstance(argv, str) or not argv:
        return None
    # After the command line's own flags (the stored ones win), before a ``--`` that ends them.
    args = list(argv)
    end = args.index("--", 1) if "--" in args[1:] else len(args)
    return [*args[:end], *stored_flags_argv(flag_values, bodies), *args[end:]]


@guard(WHAT)
def _record_flags(flag_values: Any) -> None:
    if _hook.record is not None:
        _hook.record(flag_parameters(flag_values))


# --- recording ---------------------------------------------------------------------------------


def flag_parameters(flag_values: Any) -> list[Parameter]:
    """The parsed flags defined outside absl itself, in definition order."""
    found = []
    for name in list(flag_values):
        flag = flag_values[name]
        if name != flag.name or _is_absls_own(flag_values, name):
            continue  # a short name's alias, or --verbosity and the like
        value = flag.value
        found.append(
            Parameter(
                SECTION_TF_DEFINE, name, value_text(_plain(value)), _kind(flag), flag.help or ""
            )
        )
    return found


def _is_absls_own(flag_values: Any, name: str) -> bool:
    module = flag_values.find_module_defining_flag(name) or ""
    return bool(module == "absl" or module.startswith("absl."))


def _kind(flag: Any) -> str:
    value = flag.value
    if value is None:
        return "NoneType"  # as recorded elsewhere: "" comes back as None
    if isinstance(value, list):
        return "list"
    absl_type = flag.flag_type()
    if "enum" in absl_type:
        return "enum"
    return _TYPES.get(absl_type, type_name(value))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- injecting -----------------------------------------------------------------------------


def stored_flags_argv(flag_values: Any, bodies: Bodies) -> list[str]:
    """The command-line flags that give absl the stored values of the flags it knows."""
    from absl.flags import BooleanFlag, MultiFlag

    argv: list[str] = []
    for name, body in bodies.items():
        if name not in flag_values:
            continue  # a flag this run does not define
        flag = flag_values[name]
        text, kind = body.get("value", ""), body.get("type", "")
        if text == "" and kind not in ("str", "enum"):
            continue  # recorded None: the flag's default stays
        if isinstance(flag, BooleanFlag):
            try:
                argv.append(f"--{name}" if parse_bool(text) else f"--no{name}")
            except ValueError:
                argv.append(f"--{name}={text}")  # absl's own error names the flag
        elif kind == "list":
            items = [str(_plain(item)) for item in parse_list(text)]
            if isinstance(flag, MultiFlag):
                argv += [f"--{name}={item}" for item in items]
            else:
                separator = getattr(flag.serializer, "list_sep", ",")
                argv.append(f"--{name}={separator.join(items)}")
        else:
            argv.append(f"--{name}={text}")
    return argv


# --- logging -------------------------------------------------------------------------------


class _CurrentStderr:
    """A stream that is whatever ``sys.stderr`` is when written to.

    It compares equal to the current ``sys.stderr``: absl writes a record a second time when
    its handler's stream is not ``sys.stderr`` (``--alsologtostderr``, errors), and leaves a
    stream that is ``sys.stderr`` open when closing.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def __eq__(self, other: object) -> bool:
        return other is self or other is sys.stderr

    def __hash__(self) -> int:
        return id(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stderr, name)


def follow_stderr(module: ModuleType) -> None:
    """Point absl's handler (``module`` is ``absl.logging``) at the current ``sys.stderr``
    when it writes to stderr, not to a log file."""
    handler = module.get_absl_handler().python_handler
    handler.acquire()
    try:
        if handler.stream is sys.stderr or handler.stream is sys.__stderr__:
            handler.stream = _CurrentStderr()
    finally:
        handler.release()

"""Python Fire: the called command's arguments as ``Args`` parameters, and under an agent the
stored ones given back to Fire as its command line.

Named as ClearML names them. A function's arguments, and a class's ``__init__`` arguments,
are ``Args/<arg>``. The command Fire ran (a method, a dict entry, a function of the module)
is ``Args/<command>`` = True with its arguments as ``Args/<command>/<arg>``; every other
command Fire could have run is ``Args/<other>`` = False with its arguments' defaults (empty
without one), so a clone can switch command by editing. Commands inside groups are dotted:
``Args/ingestion.hello/hello_str``. Each value is typed as Fire parsed it (``--epochs=3`` is
an ``int``); Fire's own flags (``-- --help``, ``--interactive``, ``--separator``…) are not
recorded, and the argparse hook leaves Fire's internal parser alone::

    when_imported("fire", lambda module: install_fire(module, record, override))

Under an agent, ``override`` returns the stored ``Args``; they become the command line Fire
consumes (``multiply --x=4 --y=0.5``), so Fire parses each value with its own literal
evaluation, as it would have from a shell. A value recorded as text is quoted, so ``"7"``
stays the string it was.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from tunelab.domain.task import SECTION_ARGS, Parameter
from tunelab.sdk.capture.arguments import ignore_parser
from tunelab.sdk.capture_warnings import guard
from tunelab.sdk.parameters import parse_bool, parse_structure, type_name, value_text

WHAT = "the Fire arguments"
# Groups are walked this deep for the commands a clone could switch to.
MAX_GROUP_DEPTH = 4

Bodies = Mapping[str, Mapping[str, str]]
Record = Callable[[list[Parameter]], None]
Override = Callable[[], Bodies | None]


class _Hook:
    call: Any = None
    fire: Any = None
    create_parser: Any = None
    record: Record | None = None
    override: Override | None = None


_hook = _Hook()


def install_fire(module: ModuleType, record: Record, override: Override | None) -> None:
    """Wrap Fire's call step, its entry and its flag parser (``module`` is ``fire``), once."""
    core, parser = module.core, module.parser
    _hook.record, _hook.override = record, override
    if _hook.call is None:
        _hook.call, core._CallAndUpdateTrace = core._CallAndUpdateTrace, _call_and_update_trace
        _hook.fire, core._Fire = core._Fire, _fire
        _hook.create_parser, parser.CreateParser = parser.CreateParser, _create_parser


# --- the wrappers Fire calls: each does Tunelab's part guarded, then Fire's own ---------------


def _create_parser(*args: Any, **kwargs: Any) -> Any:
    parser = _hook.create_parser(*args, **kwargs)
    _leave_alone(parser)
    return parser


@guard(WHAT)
def _leave_alone(parser: Any) -> None:
    ignore_parser(parser)  # Fire's --help/--interactive/--separator… are not the script's


def _fire(component: Any, args: Any, parsed_flag_args: Any, context: Any, name: Any = None) -> Any:
    # ``fire.Fire()`` with no component: the caller's module (its globals) is the root.
    stored = _stored_command_line(context if component is None else component)
    return _hook.fire(
        component, args if stored is None else stored, parsed_flag_args, context, name
    )


@guard(WHAT)
def _stored_command_line(root: Any) -> list[str] | None:
    bodies = _hook.override() if _hook.override is not None else None
    if not bodies:
        return None
    return fire_command_line(root, bodies)


def _call_and_update_trace(
    component: Any, args: Any, component_trace: Any, treatment: str = "class", target: Any = None
) -> Any:
    _record_call(component, args, component_trace, treatment)
    return _hook.call(component, args, component_trace, treatment, target)


@guard(WHAT)
def _record_call(component: Any, args: Any, component_trace: Any, treatment: str) -> None:
    if _hook.record is not None:
        params = call_parameters(component, args, component_trace, treatment)
        if params:
            _hook.record(params)


# --- recording ---------------------------------------------------------------------------------


def call_parameters(
    component: Any, args: list[str], component_trace: Any, treatment: str
) -> list[Parameter]:
    """The parameters of the call Fire is about to make: ``component`` called with ``args``."""
    from fire import core, decorators, inspectutils  # type: ignore[import-untyped]

    fn = component.__call__ if treatment == "callable" else component
    try:
        (values, kwargs), *_ = core._MakeParseFn(fn, decorators.GetMetadata(component))(list(args))
    except core.FireError:
        return []  # a bad command line: Fire says so itself
    spec = inspectutils.GetFullArgSpec(fn)
    given = dict(zip(spec.args, values, strict=False))  # *args beyond them are not named
    given.update({k: v for k, v in (spec.kwonlydefaults or {}).items() if k not in kwargs})
    given.update(kwargs)
    path = _command_path(component_trace)
    if not path:
        return [_parameter(name, value) for name, value in given.items()]
    command = ".".join(path)
    params = [Parameter(SECTION_ARGS, command, "True", "bool", "")]
    params += [_parameter(f"{command}/{name}", value) for name, value in given.items()]
    for other, member in _commands(_command_root(component_trace)).items():
        if other != command:
            params.append(Parameter(SECTION_ARGS, other, "False", "bool", ""))
            params += [_parameter(f"{other}/{n}", v) for n, v in _defaults(member).items()]
    return params


def _parameter(name: str, value: Any) -> Parameter:
    return Parameter(SECTION_ARGS, name, value_text(value), type_name(value), "")


def _command_path(component_trace: Any) -> list[str]:
    """The members Fire went through to reach the component it calls (``ingestion``, ``hello``)."""
    from fire import trace

    return [
        str(element._target)
        for element in component_trace.elements
        if element._action == trace.ACCESSED_PROPERTY
    ]


def _command_root(component_trace: Any) -> Any:
    """The object whose member was the first one taken (the instance, dict or module)."""
    from fire import trace

    elements = component_trace.elements
    for before, element in itertools.pairwise(elements):
        if element._action == trace.ACCESSED_PROPERTY:
            return before.component
    return None


def _commands(
    root: Any, prefix: str = "", depth: int = 0, home: str | None = None
) -> dict[str, Any]:
    """``{dotted name: callable}`` of every command reachable from ``root``, groups walked."""
    found: dict[str, Any] = {}
    if root is None or depth > MAX_GROUP_DEPTH:
        return found
    home = home or _package(root)
    for name, member in _members(root):
        if inspect.isroutine(member) or inspect.isclass(member):
            found[f"{prefix}{name}"] = member
        elif _is_group(member, home):
            found.update(_commands(member, f"{prefix}{name}.", depth + 1, home))
    return found


def _package(root: Any) -> str:
    """The top-level package the script's components come from (``__main__`` for a script)."""
    if isinstance(root, dict):
        return str(root.get("__name__") or "__main__").split(".")[0]
    return type(root).__module__.split(".")[0]


def _members(root: Any) -> list[tuple[str, Any]]:
    from fire import completion

    if isinstance(root, dict):
        items = [(str(k), v) for k, v in root.items() if not str(k).startswith("_")]
        module = root.get("__name__") if "__builtins__" in root else None
        if module is not None:  # ``fire.Fire()``: the module's own functions and classes only
            items = [(k, v) for k, v in items if getattr(v, "__module__", None) == module]
        return items
    return list(completion.VisibleMembers(root, verbose=False))


def _is_group(member: Any, home: str) -> bool:
    # Objects of the script's own classes: a library's (a model, a client) is no group of
    # commands, and walking it would list its every method.
    if isinstance(member, dict):
        return True
    return hasattr(member, "__dict__") and type(member).__module__.split(".")[0] == home


def _defaults(member: Any) -> dict[str, Any]:
    """A command's arguments with their defaults (None without one)."""
    from fire import inspectutils

    spec = inspectutils.GetFullArgSpec(member)
    defaults = list(spec.defaults or ())
    positional = dict.fromkeys(spec.args)
    if defaults:
        positional.update(zip(spec.args[-len(defaults) :], defaults, strict=True))
    keyword = {k: (spec.kwonlydefaults or {}).get(k) for k in spec.kwonlyargs}
    return {**positional, **keyword}


# --- injecting -----------------------------------------------------------------------------


def fire_command_line(root: Any, bodies: Bodies) -> list[str]:
    """The command line that gives Fire the stored values: the chosen command's path, then
    every argument as ``--name=value`` (Fire hands each flag to the call that takes it)."""
    top = {name: body for name, body in bodies.items() if "/" not in name}
    if inspect.isroutine(root):
        return [_flag(name, body) for name, body in top.items()]
    shared = set(_defaults(root)) if inspect.isclass(root) else set()
    argv = [_flag(name, body) for name, body in top.items() if name in shared]
    command = next(
        (name for name, body in top.items() if name not in shared and _is_chosen(body)), None
    )
    if command is None:
        return argv
    prefix = f"{command}/"
    own = [_flag(n[len(prefix) :], b) for n, b in bodies.items() if n.startswith(prefix)]
    return [*command.split("."), *argv, *own]


def _is_chosen(body: Mapping[str, str]) -> bool:
    try:
        return body.get("type") == "bool" and parse_bool(body.get("value", ""))
    except ValueError:
        return False


def _flag(name: str, body: Mapping[str, str]) -> str:
    return f"--{name}={_literal(body)}"


def _literal(body: Mapping[str, str]) -> str:
    """The stored text as Fire should read it: text quoted, None as ``None``, the rest as
    typed (Fire's literal evaluation turns ``4`` into an int, ``0.5`` into a float)."""
    text, kind = body.get("value", ""), body.get("type", "")
    if kind == "str":
        return repr(text)
    if text == "":
        return "None"  # how None is recorded
    try:
        if kind == "bool":
            return repr(parse_bool(text))
        if kind in ("list", "tuple", "dict"):
            value = parse_structure(text)
            return repr(tuple(value) if kind == "tuple" else value)
    except ValueError:
        pass  # Fire reads it as a command line would
    return text

"""Command-line arguments as ``Args`` hyperparameters, hooked where argparse and click parse.

``hook_argparse`` wraps ``ArgumentParser.parse_known_args`` (which ``parse_args`` calls), and
``hook_click`` wraps ``click.Command.invoke``, once per process. After each parse the optional
``override`` may return ``{name: text}`` replacement values (an agent re-running an edited
task); they are cast to what the script expects, then ``on_parsed``/``on_invoke`` sees the
final values::

    hook_argparse(lambda parser, ns: task.set(argparse_parameters(parser, ns)))

A failing callback is a capture warning (``tunelab.sdk.capture_warnings``) and the script goes
on with what it parsed; an override that does not cast ends the script with the parser's usage
error, as a bad command line would.
"""

from __future__ import annotations

import argparse
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunelab.domain.task import SECTION_ARGS, Parameter
from tunelab.sdk.capture_warnings import warn
from tunelab.sdk.parameters import as_text, parse_bool, parse_list, type_name, value_text

if TYPE_CHECKING:
    import click


Overrides = Mapping[str, str]
ArgparseCallback = Callable[[argparse.ArgumentParser, argparse.Namespace], None]
ArgparseOverride = Callable[[argparse.ArgumentParser, argparse.Namespace], Overrides | None]
ClickCallback = Callable[["click.Context"], None]
ClickOverride = Callable[["click.Context"], Overrides | None]

_BUILTIN_TYPES = (int, float, str, bool, complex)
_BOOL_ACTIONS = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse.BooleanOptionalAction,
)
_LIST_ACTIONS = (argparse._AppendAction, argparse._AppendConstAction, argparse._ExtendAction)


@dataclass
class _Hook:
    original: Any = None
    on_parsed: Any = None
    override: Any = None
    last: Any = None


_argparse = _Hook()
_click = _Hook()
_depth = threading.local()


# --- argparse -------------------------------------------------------------------------------


def hook_argparse(
    on_parsed: ArgparseCallback | None, override: ArgparseOverride | None = None
) -> None:
    """Call ``on_parsed(parser, namespace)`` after each top-level parse; re-hooking swaps them."""
    _argparse.on_parsed, _argparse.override = on_parsed, override
    if _argparse.original is None:
        _argparse.original = argparse.ArgumentParser.parse_known_args
        argparse.ArgumentParser.parse_known_args = _parse_known_args  # type: ignore[method-assign,assignment]


def unhook_argparse() -> None:
    if _argparse.original is not None:
        argparse.ArgumentParser.parse_known_args = _argparse.original  # type: ignore[method-assign]
    _argparse.original = _argparse.on_parsed = _argparse.override = _argparse.last = None


def last_argparse() -> tuple[argparse.ArgumentParser, argparse.Namespace] | None:
    """The last top-level parse seen since ``hook_argparse``, for a task started after parsing."""
    last: tuple[argparse.ArgumentParser, argparse.Namespace] | None = _argparse.last
    return last


def _parse_known_args(
    self: argparse.ArgumentParser, args: Any = None, namespace: Any = None
) -> tuple[argparse.Namespace, list[str]]:
    # Sub-parsers call parse_known_args again from inside: only the outermost call reports.
    depth = getattr(_depth, "value", 0)
    _depth.value = depth + 1
    try:
        parsed, extras = _argparse.original(self, args, namespace)
    finally:
        _depth.value = depth
    if depth == 0 and _argparse.original is not None and not _parses_its_own_way(self):
        values = _call(_argparse.override, self, parsed)
        if values:
            try:
                apply_argparse_overrides(self, parsed, values)
            except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
                self.error(str(exc))
            except Exception as exc:  # Tunelab's own failure: the command line's values stay
                warn(ARGPARSE, exc)
        _argparse.last = (self, parsed)
        _call(_argparse.on_parsed, self, parsed)
    return parsed, extras


def ignore_parser(parser: argparse.ArgumentParser) -> None:
    """Leave ``parser`` alone: a framework's internal one (Fire's flags), neither recorded
    nor given stored values."""
    _ignored.add(parser)


def ignore_parsers_where(test: Callable[[argparse.ArgumentParser], bool]) -> None:
    """Leave alone every parser ``test`` picks (Hydra's own, made afresh at each run)."""
    _ignored_kinds.append(test)


_ignored: weakref.WeakSet[argparse.ArgumentParser] = weakref.WeakSet()
_ignored_kinds: list[Callable[[argparse.ArgumentParser], bool]] = []


def _parses_its_own_way(parser: argparse.ArgumentParser) -> bool:
    if parser in _ignored:
        return True
    for test in _ignored_kinds:
        try:
            if test(parser):
                return True
        except Exception as exc:  # recorded as any parser then: the script's parse goes on
            warn(ARGPARSE, exc)
    # jsonargparse's parsers (LightningCLI's too) subclass argparse but merge config files and
    # type hints after argparse's pass: their own hook records the final values instead.
    return any(cls.__module__.startswith("jsonargparse") for cls in type(parser).__mro__)


def argparse_parameters(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace
) -> list[Parameter]:
    """Every argument with its parsed value, in definition order, sub-command arguments included."""
    found: dict[str, Parameter] = {}
    for action in _argparse_actions(parser, namespace):
        value = getattr(namespace, action.dest)
        kind = _argparse_type(action, value)
        text = value_text(list(value) if kind == "list" and value is not None else value)
        help_text = _argparse_help(parser, action)
        found.setdefault(action.dest, Parameter(SECTION_ARGS, action.dest, text, kind, help_text))
    return list(found.values())


def apply_argparse_overrides(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Overrides
) -> None:
    """Set ``{dest: text}`` on the namespace, each cast as the argument's own type would be."""
    actions = {a.dest: a for a in reversed(list(_argparse_actions(parser, namespace)))}
    for dest, text in values.items():
        action = actions.get(dest)
        if action is None:
            continue
        try:
            value = _cast_argparse(action, text, getattr(namespace, dest))
        except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
            raise ValueError(f"argument {dest}: cannot use {text!r}: {exc}") from exc
        if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
            for item in value if isinstance(value, list) else [value]:
                if item not in action.choices:
                    raise ValueError(f"argument {dest}: {item!r} is not one of {action.choices}")
        setattr(namespace, dest, value)


def _argparse_actions(
    parser: argparse.ArgumentParser, namespace: argparse.Namespace
) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(namespace, action.dest, None)  # unset when dest is SUPPRESS
            if chosen in action.choices:
                yield action
                yield from _argparse_actions(action.choices[chosen], namespace)
            else:  # unnamed sub-commands: the chosen one's arguments are those parsed
                for sub in {id(p): p for p in action.choices.values()}.values():
                    yield from _argparse_actions(sub, namespace)
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction) and (
            action.dest != argparse.SUPPRESS and hasattr(namespace, action.dest)
        ):
            yield action


def _argparse_type(action: argparse.Action, value: Any) -> str:
    if isinstance(action, _BOOL_ACTIONS):
        return "bool"
    if isinstance(action, argparse._CountAction):
        return "int"
    if _is_list_action(action) or isinstance(value, list | tuple):
        return "list"
    if action.type in _BUILTIN_TYPES:
        return action.type.__name__
    return type_name(value)


def _is_list_action(action: argparse.Action) -> bool:
    nargs = action.nargs
    many = nargs in ("*", "+", argparse.REMAINDER) or (isinstance(nargs, int) and nargs >= 1)
    return isinstance(action, _LIST_ACTIONS) or many


def _argparse_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    try:  # expands %(default)s and friends, as --help shows them
        return str(parser._get_formatter()._expand_help(action))
    except (KeyError, TypeError, ValueError):
        pass
    # A help that is not a string (Hydra's lazily computed shell-completion text) is
    # whatever it prints as, or nothing when even that fails.
    try:
        return str(action.help)
    except Exception:
        return ""


def _cast_argparse(action: argparse.Action, text: str, current: Any) -> Any:
    if isinstance(action, _BOOL_ACTIONS):
        return parse_bool(text)
    is_text = action.type in (None, str) and not _is_list_action(action)
    if text == "" and not (is_text and isinstance(action.default, str)):
        return None  # "" is how None was recorded; only a text argument can mean ""
    if isinstance(action, argparse._CountAction):
        return int(text)
    if _is_list_action(action):
        convert = action.type if callable(action.type) else None
        return [
            convert(item)
            if convert and (isinstance(item, str) or convert in _BUILTIN_TYPES)
            else item
            for item in parse_list(text)
        ]
    sample = current if current is not None else action.default
    kind: Any = action.type or (type(sample) if sample is not None else str)
    if kind is bool:
        return parse_bool(text)
    if isinstance(kind, type) and issubclass(kind, list | tuple):
        return kind(parse_list(text))
    return kind(text)


# --- click ----------------------------------------------------------------------------------


def hook_click(on_invoke: ClickCallback | None, override: ClickOverride | None = None) -> None:
    """Call ``on_invoke(ctx)`` as each click command (group and sub-command) is about to run."""
    import click

    _click.on_parsed, _click.override = on_invoke, override
    if _click.original is None:
        _click.original = click.Command.invoke
        click.Command.invoke = _invoke  # type: ignore[method-assign]


def unhook_click() -> None:
    if _click.original is not None:
        import click

        click.Command.invoke = _click.original  # type: ignore[method-assign]
    _click.original = _click.on_parsed = _click.override = None


def current_click_parameters() -> list[Parameter]:
    """The parameters of the running click command and its parents, for a task started inside."""
    if "click" not in sys.modules:
        return []
    import click

    ctx = click.get_current_context(silent=True)
    chain = []
    while ctx is not None:
        chain.append(ctx)
        ctx = ctx.parent
    return [p for c in reversed(chain) for p in click_parameters(c)]


def click_parameters(ctx: click.Context) -> list[Parameter]:
    """The command's final parameter values; a sub-command's are named ``sub/name``."""
    prefix = _click_prefix(ctx)
    found = []
    for param in _click_params(ctx):
        value = ctx.params[param.name]
        kind = _click_type(param, value)
        text = value_text(list(value) if kind == "list" and value is not None else value)
        help_value = getattr(param, "help", None)
        help_text = "" if help_value is None else as_text(help_value)
        found.append(Parameter(SECTION_ARGS, f"{prefix}{param.name}", text, kind, help_text))
    return found


def apply_click_overrides(ctx: click.Context, values: Overrides) -> None:
    """Replace ``ctx.params`` from ``{name: text}`` (named as ``click_parameters`` names them)."""
    from click import types

    prefix = _click_prefix(ctx)
    for param in _click_params(ctx):
        text = values.get(f"{prefix}{param.name}")
        if text is None:
            continue
        many = param.multiple or param.nargs != 1
        is_text = not many and isinstance(param.type, types.StringParamType)
        if text == "" and not (is_text and isinstance(param.default, str)):
            raw = None  # "" is how None was recorded; only a text option can mean ""
        else:
            raw = parse_list(text) if many else text
        ctx.params[param.name] = param.type_cast_value(ctx, raw)


def _invoke(self: click.Command, ctx: click.Context) -> Any:
    import click

    values = _call(_click.override, ctx, what=CLICK)
    if values:
        try:
            apply_click_overrides(ctx, values)
        except click.ClickException:
            raise  # click.BadParameter ends in click's usage error, as a bad command line
        except Exception as exc:  # Tunelab's own failure: the command line's values stay
            warn(CLICK, exc)
    _call(_click.on_parsed, ctx, what=CLICK)
    return _click.original(self, ctx)


def _click_params(ctx: click.Context) -> list[click.Parameter]:
    return [p for p in ctx.command.params if p.name is not None and p.name in ctx.params]


def _click_prefix(ctx: click.Context) -> str:
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or ctx.command.name or "")
        ctx = ctx.parent
    return "".join(f"{name}/" for name in reversed(names))


def _click_type(param: click.Parameter, value: Any) -> str:
    from click import types

    if param.multiple or param.nargs != 1:
        return "list"
    for click_type, name in (
        (types.BoolParamType, "bool"),
        (types.IntParamType, "int"),
        (types.FloatParamType, "float"),
        (types.StringParamType, "str"),
    ):
        if isinstance(param.type, click_type):
            return name
    return type_name(value)


# --- shared ---------------------------------------------------------------------------------


ARGPARSE = "the argparse arguments"
CLICK = "the click arguments"


def _call(callback: Callable[..., Any] | None, *args: Any, what: str = ARGPARSE) -> Any:
    if callback is None:
        return None
    try:
        return callback(*args)
    except Exception as exc:
        warn(what, exc)
        return None

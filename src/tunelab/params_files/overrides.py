"""Overrides checked against the values a file holds: the same checks as the Configuration
tab's edits (a text typed for an int must be a whole number, for a bool true or false...),
so a value that the web app would refuse is refused here too, with a sentence naming it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.sdk.parameters import cast_text, type_name

# A key's path inside the file: ("train", "lr") for ``train.lr``.
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """One checked override: where in the file, and the value to write there."""

    path: KeyPath
    value: Any
    new: bool  # the key does not exist yet (only with ``allow_new``)


def checked_changes(
    tree: Mapping[str, Any], overrides: Mapping[str, Any], file: str, *, allow_new: bool
) -> list[Change]:
    """``overrides`` (``{"train.lr": 0.01}``) as Changes; raises InvalidInput naming the first
    key that does not exist (unless ``allow_new``) or whose value is not of the stored type."""
    changes: list[Change] = []
    for key, value in overrides.items():
        path = _path(key, file)
        found, old = _lookup(tree, path)
        if not found:
            if not allow_new:
                raise InvalidInput(f"{file} has no parameter {key!r}", {"key": key})
            changes.append(Change(path, value, new=True))
            continue
        changes.append(Change(path, _typed(key, old, value), new=False))
    return changes


def _path(key: str, file: str) -> KeyPath:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise InvalidInput(f"{key!r} is not a parameter name of {file} (like 'train.lr')")
    return tuple(key.split("."))


def _lookup(tree: Mapping[str, Any], path: KeyPath) -> tuple[bool, Any]:
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _typed(key: str, old: Any, value: Any) -> Any:
    """``value`` as the type ``old`` has; text is cast as the Configuration tab casts it."""
    expected = type_name(old)
    if old is None or value is None:
        return value
    if isinstance(value, str) and not isinstance(old, str):
        try:
            return cast_text(value, old, expected)
        except ValueError:
            raise _wrong_type(key, expected, value) from None
    got = type_name(value)
    if got == expected:
        return value
    if expected == "float" and got == "int":
        return float(value)
    if expected == "list" and isinstance(value, (list, tuple)):
        return list(value)
    raise _wrong_type(key, expected, value)


def _wrong_type(key: str, expected: str, value: Any) -> InvalidInput:
    return InvalidInput(
        f"{key} must be {expected}, got {value!r} ({type_name(value)})",
        {"key": key, "type": expected},
    )

"""One entry point for every format: which module reads a file is chosen by its suffix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.params_files import json_file, python_file, toml_file, yaml_file
from tunelab.params_files.overrides import checked_changes
from tunelab.sdk.parameters import type_name

_FORMATS: dict[str, ModuleType] = {
    ".yaml": yaml_file,
    ".yml": yaml_file,
    ".json": json_file,
    ".toml": toml_file,
    ".py": python_file,
}


@dataclass(frozen=True)
class ParamValue:
    """One parameter as the Configuration tab shows it: its dotted key, value and type name
    (int, float, bool, str, list, dict, NoneType)."""

    key: str
    value: Any
    type: str


def supported(file: str) -> bool:
    """Whether ``file``'s format is one Tunelab reads and writes."""
    return _suffix(file) in _FORMATS


def read_params(file: str, text: str) -> dict[str, Any]:
    """The file's parameters as a tree of plain values (dicts keep the file's key order)."""
    tree: dict[str, Any] = _format(file).load(text, file)
    return tree


def flat_params(file: str, text: str) -> dict[str, ParamValue]:
    """``{"train.lr": ParamValue(...)}``: nested keys joined with ``.``; lists stay whole,
    as does an empty dict."""
    return {
        key: ParamValue(key, value, type_name(value))
        for key, value in _flatten(read_params(file, text)).items()
    }


def apply_overrides(
    file: str, text: str, overrides: Mapping[str, Any], *, allow_new: bool = False
) -> str:
    """``text`` with ``overrides`` (``{"train.lr": 0.01}``) written in, keeping the file's
    format, comments and key order. A value is checked against the type stored (text is
    cast as the Configuration tab casts it: ``"20"`` for an int is 20); a key the file does
    not have is refused unless ``allow_new``. Raises InvalidInput naming the key."""
    handler = _format(file)
    changes = checked_changes(handler.load(text, file), overrides, file, allow_new=allow_new)
    if not changes:
        return text
    written: str = handler.write(text, changes, file)
    return written


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _suffix(file: str) -> str:
    name = file.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _format(file: str) -> Any:
    handler = _FORMATS.get(_suffix(file))
    if handler is None:
        known = ", ".join(sorted(_FORMATS))
        raise InvalidInput(f"{file}: not a parameter file Tunelab reads ({known})")
    return handler

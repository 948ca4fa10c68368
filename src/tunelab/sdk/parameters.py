"""Turning Python values into typed hyperparameters, and connected objects into sections.

A parameter travels as text plus the name of its Python type, so a value edited in the
web app can be cast back to what the script expects (``"0.1"``/``float`` -> ``0.1``).
Nested dicts flatten with ``/``: ``{"opt": {"lr": 0.1}}`` -> ``opt/lr``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# What the API accepts for one parameter: {"value": text, "type": name, "description": text}
ParamBody = dict[str, str]


def type_name(value: Any) -> str:
    if value is None:
        return "NoneType"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    return type(value).__name__


def value_text(value: Any) -> str:
    """The text form of a value: str() for scalars, JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(value, default=str)
    return str(value)


def param_body(value: Any, description: str = "") -> ParamBody:
    return {"value": value_text(value), "type": type_name(value), "description": description}


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": 2}`` -> ``{"a/b": 1, "c": 2}``; an empty nested dict stays a value."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def object_fields(obj: Any) -> dict[str, Any]:
    """The public, non-callable attributes of a plain object (or of a class used as config)."""
    source = vars(obj) if hasattr(obj, "__dict__") else {n: getattr(obj, n) for n in dir(obj)}
    return {
        name: value
        for name, value in source.items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, (staticmethod, classmethod, property))
    }


def section_bodies(values: Mapping[str, Any]) -> dict[str, ParamBody]:
    """Flattened values -> the API's per-parameter bodies."""
    return {name: param_body(value) for name, value in flatten(values).items()}


def split_key(key: str, default_section: str = "General") -> tuple[str, str]:
    """``"Args/lr"`` -> ``("Args", "lr")``; a key without a section goes to ``default_section``."""
    section, sep, name = key.partition("/")
    if not sep:
        return default_section, key
    return section, name


def group_by_section(values: Mapping[str, Any]) -> dict[str, dict[str, ParamBody]]:
    """Accepts ``{"Args/lr": 0.1}`` and ``{"Args": {"lr": 0.1}}`` alike."""
    grouped: dict[str, dict[str, ParamBody]] = {}
    for key, value in values.items():
        if "/" not in key and isinstance(value, Mapping):
            for name, inner in flatten(value).items():
                grouped.setdefault(key, {})[name] = _as_body(inner)
        else:
            section, name = split_key(key)
            grouped.setdefault(section, {})[name] = _as_body(value)
    return grouped


def _as_body(value: Any) -> ParamBody:
    # A caller may pass {"value": ..., "type": ..., "description": ...} to set all three.
    if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "type", "description"}:
        body = param_body(value["value"], str(value.get("description", "")))
        if "type" in value:
            body["type"] = str(value["type"])
        return body
    return param_body(value)

"""Turning Python values into typed hyperparameters, and connected objects into sections.

A parameter travels as text plus the name of its Python type, so a value edited in the
web app can be cast back to what the script expects (``"0.1"``/``float`` -> ``0.1``).
Nested dicts flatten with ``/``: ``{"opt": {"lr": 0.1}}`` -> ``opt/lr``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
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
    """The text form of a value: str() for scalars, JSON for lists and dicts. Never raises:
    what JSON cannot write (a cycle, tuple keys) is its repr(), see ``as_text``."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, Mapping)):
        try:
            return json.dumps(value, default=as_text)
        except (TypeError, ValueError, RecursionError):
            return _repr_or_type(value)
    return as_text(value)


def as_text(value: Any) -> str:
    """``str(value)``; if that raises, ``repr(value)``; if that raises too, ``<TypeName>``.
    An object of a user's (a help text, a config node) must not fail the capture."""
    try:
        text = str(value)
    except Exception:
        return _repr_or_type(value)
    return text if isinstance(text, str) else _repr_or_type(value)


def _repr_or_type(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def param_body(value: Any, description: str = "") -> ParamBody:
    return {"value": value_text(value), "type": type_name(value), "description": description}


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": 2}`` -> ``{"a/b": 1, "c": 2}``; an empty nested dict stays a value.

    A dict that holds itself (on the path down to it) stays a value too, as does one nested
    deeper than Python's recursion would go: a connected dict never fails the script."""
    flat: dict[str, Any] = {}
    # Depth first in the dicts' order, without recursion: (prefix, items left, dicts above).
    stack: list[tuple[str, Iterator[tuple[Any, Any]], frozenset[int]]] = [
        (prefix, iter(data.items()), frozenset({id(data)}))
    ]
    while stack:
        at, items, above = stack[-1]
        entry = next(items, None)
        if entry is None:
            stack.pop()
            continue
        key, value = entry
        name = f"{at}{as_text(key)}"
        if isinstance(value, Mapping) and value and id(value) not in above:
            stack.append((f"{name}/", iter(value.items()), above | {id(value)}))
        else:
            flat[name] = value
    return flat


def object_fields(obj: Any) -> dict[str, Any]:
    """The public, non-callable attributes of a plain object (or of a class used as config)."""
    source = vars(obj) if hasattr(obj, "__dict__") else {n: getattr(obj, n) for n in dir(obj)}
    return {
        name: value
        for name, value in source.items()
        if not name.startswith("_")
        and not callable(value)
        and not isinstance(value, (staticmethod, classmethod, property))
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


_BODY_KEYS = frozenset({"value", "type", "description"})


def _as_body(value: Any) -> ParamBody:
    # A caller may pass {"value": ..., "type": ..., "description": ...} to set all three.
    if (
        isinstance(value, Mapping)
        and "value" in value
        and set(value) <= {"value", "type", "description"}
    ):
        body = param_body(value["value"], str(value.get("description", "")))
        if "type" in value:
            body["type"] = str(value["type"])
        return body
    return param_body(value)


# ----- text back to Python: how an edited value reaches the script -------------------------

_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise ValueError(f"not a boolean: {text!r}")


def parse_structure(text: str) -> Any:
    """JSON first (what the SDK writes), then YAML (what people type in an edit box)."""
    try:
        return json.loads(text)
    except ValueError:
        yaml: Any = importlib.import_module("yaml")  # imported on demand: the SDK loads fast
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"cannot parse {text!r} as JSON or YAML") from exc


def parse_list(text: str) -> list[Any]:
    """``'[1, "a"]'`` (JSON) or ``'[1, a]'`` (YAML) -> a list; a scalar -> ``[scalar]``."""
    if not text.strip():
        return []
    try:
        value = parse_structure(text)
    except ValueError:
        raise ValueError(f"not a list: {text!r}") from None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def cast_text(text: str, like: Any, stored_type: str = "str") -> Any:
    """The stored ``text`` as the type of the script's own value ``like``.

    When the script's value is None, the stored type decides. Raises ValueError when the
    text cannot be that type (the caller names the parameter).
    """
    if like is None:
        return _cast_by_name(text, stored_type)
    if isinstance(like, bool):
        return parse_bool(text)
    if isinstance(like, int):
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"not a whole number: {text!r}")
        return int(number) if "." in text or "e" in text.lower() else int(text)
    if isinstance(like, float):
        return float(text)
    if isinstance(like, str):
        return text
    if isinstance(like, tuple):
        return tuple(parse_list(text))
    if isinstance(like, list):
        return parse_list(text)
    if isinstance(like, Mapping):
        value = parse_structure(text) if text.strip() else {}
        if not isinstance(value, Mapping):
            raise ValueError(f"not a mapping: {text!r}")
        return dict(value)
    return _cast_by_name(text, stored_type)


def _cast_by_name(text: str, stored_type: str) -> Any:
    if stored_type == "NoneType" and text == "":
        return None
    casts: dict[str, Any] = {
        "int": 0,
        "float": 0.0,
        "bool": False,
        "list": [],
        "tuple": (),
        "dict": {},
    }
    if stored_type in casts:
        return cast_text(text, casts[stored_type])
    return text

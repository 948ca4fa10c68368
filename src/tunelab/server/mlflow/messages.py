"""Reading MLflow's request messages: the JSON of a POST, the query string of a GET.

The fields are those of MLflow's ``service.proto``; values come as proto3 JSON writes them
(an int64 as a number or a numeric string, a double's NaN and infinities as strings), and
a wrong type is MLflow's ``INVALID_PARAMETER_VALUE`` naming the field.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

from tunelab.errors import InvalidInput

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The doubles proto3 JSON writes as strings, JSON having no number for them.
SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Message:
    """One request's fields, read by type: ``Message(body).text("run_id", required=True)``."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        if not isinstance(fields, Mapping):
            raise InvalidInput("the request body must be a JSON object")
        self.fields = fields

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.fields.get(name)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"Missing value for required parameter '{name}'")
            return default
        if not isinstance(value, str):
            raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': must be a string")
        return value

    def run_id(self) -> str:
        """``run_id``, or the deprecated ``run_uuid`` older clients send."""
        found = self.text("run_id") or self.text("run_uuid")
        if not found:
            raise InvalidInput("Missing value for required parameter 'run_id'")
        return found

    def int64(self, name: str, *, required: bool = False) -> int | None:
        return int64(self.fields.get(name), name, required=required)

    def double(self, name: str, *, required: bool = False) -> float | None:
        return double(self.fields.get(name), name, required=required)

    def repeated(self, name: str) -> list[Any]:
        value = self.fields.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': must be a list")
        return value

    def texts(self, name: str) -> list[str]:
        found = self.repeated(name)
        for item in found:
            if not isinstance(item, str):
                raise InvalidInput(f"Invalid value {item!r} in '{name}': must be a string")
        return found

    def messages(self, name: str) -> list[Message]:
        return [Message(item) for item in self.objects(name)]

    def objects(self, name: str) -> list[Mapping[str, Any]]:
        """``messages`` as the objects they read, for a field read in bulk (a batch's 1,000
        metrics) rather than by ``Message``."""
        found = self.repeated(name)
        if not all(type(item) is dict for item in found):  # what JSON gives, checked at once
            for item in found:
                _object(item, name)
        return found

    def enum(self, name: str, names: tuple[str, ...], default: str) -> str:
        """An enum by name or number (proto3 JSON accepts both; numbers count from 1)."""
        value = self.fields.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(names):
            return names[value - 1]
        if isinstance(value, str) and value in names:
            return value
        raise InvalidInput(
            f"Invalid value {value!r} for parameter '{name}': one of {', '.join(names)}"
        )


def int64(value: Any, name: str, *, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Missing value for required parameter '{name}'")
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': must be an int64")
    return value


def double(value: Any, name: str, *, required: bool = False) -> float | None:
    if value is None:
        if required:
            raise InvalidInput(f"Missing value for required parameter '{name}'")
        return None
    if isinstance(value, str):
        if value in SPECIAL_DOUBLES:
            return SPECIAL_DOUBLES[value]
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"Invalid value {value!r} for parameter '{name}': must be a number")
    try:
        return float(value)
    except OverflowError:  # an integer of more digits than a double holds (JSON has no limit)
        raise InvalidInput(
            f"Invalid value {value!r} for parameter '{name}': out of a double's range"
        ) from None


def json_double(value: float | None) -> float | str | None:
    """A double as proto3 JSON writes it: NaN and the infinities as strings."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _object(item: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"Invalid value {item!r} in '{name}': must be an object")
    return item

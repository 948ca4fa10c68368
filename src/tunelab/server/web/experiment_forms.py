"""Edit forms read back: rows of typed parameters, checked as the browser checked them.

A row editor posts ``p-<i>-name``, ``p-<i>-type``, ``p-<i>-value``, ``p-<i>-description``
for each row it still shows (a deleted row is simply not posted). A boolean's toggle posts a
hidden ``false`` then, when checked, ``true``: the last value wins. The browser refuses a
number field that is not a number; the server refuses it again, with a sentence naming the
parameter, for any client that skipped the browser.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from tunelab.errors import InvalidInput

_ROW_FIELD = re.compile(r"p-(\d+)-name")
_INT = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    value: str
    description: str


def form_text(form: FormData, field: str) -> str:
    """A field's text as posted (the last one when repeated), with a textarea's CRLF as LF."""
    values = form.getlist(field)
    value = values[-1] if values else ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text, not a file")
    return value.replace("\r\n", "\n")


def posted_rows(form: FormData) -> list[Row]:
    """The rows in the order the form showed them."""
    indices = sorted({int(m.group(1)) for key in form if (m := _ROW_FIELD.fullmatch(key))})
    return [
        Row(
            name=form_text(form, f"p-{i}-name").strip(),
            type=form_text(form, f"p-{i}-type").strip() or "str",
            value=form_text(form, f"p-{i}-value"),
            description=form_text(form, f"p-{i}-description"),
        )
        for i in indices
    ]


def entries_from_rows(
    rows: list[Row], where: str, stored: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, str]]:
    """``{name: {value, type, description}}`` for the store; raises InvalidInput naming the
    first bad row. ``stored`` keeps a value's text when its meaning did not change (``1e-3``
    stays ``1e-3``, ``true`` stays ``true``)."""
    entries: dict[str, dict[str, str]] = {}
    for row in rows:
        if not row.name:
            raise InvalidInput(f"every parameter in {where} needs a name")
        if row.name in entries:
            raise InvalidInput(f"{where} has two parameters named {row.name!r}")
        before = stored.get(row.name)
        value = typed_text(f"{where}/{row.name}", row.type, row.value, before)
        entries[row.name] = {"value": value, "type": row.type, "description": row.description}
    return entries


def typed_text(key: str, type_name: str, text: str, before: Mapping[str, Any] | None) -> str:
    """``text`` checked against ``type_name`` (int, float, bool; anything else is text)."""
    previous = before["value"] if before is not None and before["type"] == type_name else None
    if type_name == "int":
        stripped = text.strip()
        if not _INT.fullmatch(stripped):
            raise InvalidInput(f"{key} must be a whole number (int), got {text!r}")
        return stripped
    if type_name == "float":
        stripped = text.strip()
        try:
            number = float(stripped)
        except ValueError:
            raise InvalidInput(f"{key} must be a number (float), got {text!r}") from None
        # An ``inf`` already stored may stay; a new one would not survive a number field.
        if not math.isfinite(number) and stripped != previous:
            raise InvalidInput(f"{key} must be a finite number (float), got {text!r}")
        return stripped
    if type_name == "bool":
        lowered = text.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise InvalidInput(f"{key} must be true or false (bool), got {text!r}")
        meaning = lowered in _TRUE
        if previous is not None and is_true(previous) == meaning:
            return str(previous)
        return "True" if meaning else "False"  # how the SDK writes a Python bool
    return text


def is_true(text: str) -> bool:
    """A stored boolean's meaning, as the SDK's ``parse_bool`` reads it."""
    return text.strip().lower() in _TRUE


def is_finite_number(text: str) -> bool:
    """Whether a number field can show ``text`` (an ``inf`` stays a text field)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False

"""A run's inputs fitted to what the server stores (``domain.input_limits``) before they are
sent. The server refuses a whole body for one entry past a limit, and the run's sender can
only drop what is refused: a connected dict with one empty key lost its whole section.

Here an entry whose name cannot be stored (empty, too long) is left out, and a text too long
is cut to the limit; each is a capture warning of the run. Everything else goes as it was::

    fitted("set_hyperparameters", {"Args": {"": body, "lr": body}})   # {"Args": {"lr": body}}
"""

from __future__ import annotations

from typing import Any

from tunelab.domain import input_limits as limits
from tunelab.sdk.capture_warnings import warn

_SHOWN = 80  # characters of a name a warning quotes


def fitted(method: str, payload: Any) -> Any:
    """``payload`` of the session call ``method``, as the server will take it."""
    if not isinstance(payload, dict):
        return payload
    if method == "set_hyperparameters":
        return _sections(payload)
    if method == "set_user_properties":
        return _entries(payload, "user property", "", limits.ENTRIES)
    if method == "set_configuration":
        return _entries(payload, "configuration object", "", limits.CONFIGURATIONS)
    return payload


def _sections(sections: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for section, entries in _first(sections, limits.SECTIONS, "hyperparameter sections"):
        problem = _name_problem(section, limits.SECTION_NAME)
        if problem:
            warn(f"the hyperparameter section {_shown(section)}", f"its name {problem}: left out")
        elif isinstance(entries, dict):
            kept[section] = _entries(entries, "hyperparameter", f"{section}/", limits.ENTRIES)
        else:
            kept[section] = entries  # None: the section is deleted
    return kept


def _entries(entries: dict[str, Any], kind: str, prefix: str, most: int) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, body in _first(entries, most, f"{kind} entries"):
        what = f"the {kind} {_shown(prefix + name)}"
        problem = _name_problem(name, limits.ENTRY_NAME)
        if problem:
            warn(what, f"its name {problem}: left out")
            continue
        kept[name] = _body(body, what) if isinstance(body, dict) else body
    return kept


def _body(body: dict[str, Any], what: str) -> dict[str, Any]:
    body = dict(body)
    for key, most in (("value", limits.PARAMETER_VALUE), ("text", limits.LONG_TEXT)):
        text = body.get(key)
        if isinstance(text, str) and len(text) > most:
            warn(what, f"its text has {len(text):,} characters: cut to the first {most:,}")
            body[key] = text[:most]
    for key, most in (("type", limits.TYPE_NAME), ("description", limits.SHORT_TEXT)):
        text = body.get(key)
        if isinstance(text, str) and len(text) > most:
            body[key] = text[:most]
    return body


def _first(items: dict[str, Any], most: int, what: str) -> list[tuple[str, Any]]:
    pairs = list(items.items())
    if len(pairs) > most:
        warn(f"{len(pairs):,} {what}", f"only the first {most:,} are kept in one call")
    return pairs[:most]


def _name_problem(name: Any, most: int) -> str | None:
    if not isinstance(name, str) or not name:
        return "is empty"
    if len(name) > most:
        return f"is longer than {most} characters"
    return None


def _shown(name: Any) -> str:
    text = str(name)
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")

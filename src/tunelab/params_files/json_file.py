"""JSON parameter files: written back with the indent they had (JSON keeps no comments)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.params_files.overrides import Change

_FIRST_INDENT = re.compile(r"\{\s*?\n([ \t]+)\S")


def load(text: str, file: str) -> dict[str, Any]:
    try:
        tree = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(tree, dict):
        raise InvalidInput(f"{file} must hold a JSON object at the top")
    return tree


def write(text: str, changes: Sequence[Change], file: str) -> str:
    tree = load(text, file)
    for change in changes:
        node = tree
        for part in change.path[:-1]:
            node = node.setdefault(part, {})
        node[change.path[-1]] = change.value
    found = _FIRST_INDENT.search(text)
    indent: str | None = found.group(1) if found else None
    written = json.dumps(tree, indent=indent, ensure_ascii=_ascii_only(text))
    trailing = text[len(text.rstrip()) :]
    return written + trailing


def _ascii_only(text: str) -> bool:
    """Keep ``é`` as it was written: escaped only if the file escaped everything."""
    return text.isascii()

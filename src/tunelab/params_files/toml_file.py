"""TOML parameter files through tomlkit, which keeps comments, order and inline tables."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.params_files.overrides import Change


def load(text: str, file: str) -> dict[str, Any]:
    plain: dict[str, Any] = _parse(text, file).unwrap()
    return plain


def write(text: str, changes: Sequence[Change], file: str) -> str:
    tomlkit: Any = importlib.import_module("tomlkit")
    document = _parse(text, file)
    for change in changes:
        node = document
        for part in change.path[:-1]:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
        node[change.path[-1]] = change.value
    written: str = tomlkit.dumps(document)
    return written


def _parse(text: str, file: str) -> Any:
    tomlkit: Any = importlib.import_module("tomlkit")  # on demand: most runs read no TOML
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise InvalidInput(f"{file} is not valid TOML: {exc}") from None

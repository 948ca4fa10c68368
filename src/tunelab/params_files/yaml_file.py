"""YAML parameter files through ruamel.yaml's round trip, which keeps comments, key order,
quoting, anchors and aliases."""

from __future__ import annotations

import importlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.params_files.overrides import Change


def load(text: str, file: str) -> dict[str, Any]:
    tree = _parse(text, file)
    plain = _plain(tree)
    if plain is None:
        return {}
    if not isinstance(plain, dict):
        raise InvalidInput(f"{file} must hold a mapping at the top")
    return plain


def write(text: str, changes: Sequence[Change], file: str) -> str:
    yaml = _round_trip()
    tree = _parse(text, file, yaml)
    if tree is None:
        tree = {}
    for change in changes:
        node = tree
        for part in change.path[:-1]:
            if part not in node:
                node[part] = {}
            node = node[part]
        node[change.path[-1]] = change.value
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def _round_trip() -> Any:
    ruamel: Any = importlib.import_module("ruamel.yaml")  # on demand: it is not small
    yaml = ruamel.YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line that was not folded
    # ``key: null`` stays written (ruamel's default leaves the value out).
    yaml.representer.add_representer(type(None), _represent_none)
    return yaml


def _represent_none(representer: Any, _data: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _parse(text: str, file: str, yaml: Any = None) -> Any:
    yaml = yaml or _round_trip()
    errors: Any = importlib.import_module("ruamel.yaml.error")
    try:
        return yaml.load(text)
    except errors.YAMLError as exc:
        raise InvalidInput(f"{file} is not valid YAML: {exc}") from None


def _plain(node: Any) -> Any:
    """ruamel's commented containers and formatted scalars as plain Python values."""
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return str(node)  # dates and other YAML scalars: their text

"""Python parameter files: top-level constants (``LR = 0.1``, ``LAYERS = [64, 32]``,
``OPT = {"name": "adam"}``) whose values are literals.

An override rewrites only the text of the value it changes (its span, found with ``ast``):
the rest of the file, comments and layout included, stays as it was. Assignments whose value
is not a literal (``STEPS = EPOCHS * 10``) are not parameters and are left alone.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.params_files.overrides import Change

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


@dataclass(frozen=True)
class _Span:
    start: int  # character offsets into the text
    end: int


def load(text: str, file: str) -> dict[str, Any]:
    return {name: value for name, (value, _node) in _constants(text, file).items()}


def write(text: str, changes: Sequence[Change], file: str) -> str:
    constants = _constants(text, file)
    offsets = _line_offsets(text)
    edits: list[tuple[_Span, str]] = []
    appended: list[str] = []
    for change in changes:
        if change.new and change.path[0] not in constants:
            appended.append(f"{change.path[0]} = {_literal(_nested(change), None, text)}\n")
            continue
        node = _value_node(constants[change.path[0]][1], change.path, file)
        if node is None:  # a new key inside an existing dict: rewrite that dict whole
            head = change.path[:-1]
            holder = _value_node(constants[change.path[0]][1], head, file)
            assert holder is not None
            value = ast.literal_eval(holder)
            value[change.path[-1]] = change.value
            edits.append((_span(holder, text, offsets), _literal(value, holder, text)))
            continue
        edits.append((_span(node, text, offsets), _literal(change.value, node, text)))
    # From the end backwards, so the earlier spans' offsets still hold.
    for span, replacement in sorted(edits, key=lambda edit: edit[0].start, reverse=True):
        text = text[: span.start] + replacement + text[span.end :]
    if appended:
        text = text if text.endswith("\n") or not text else text + "\n"
        text += "".join(appended)
    return text


def _constants(text: str, file: str) -> dict[str, tuple[Any, ast.expr]]:
    try:
        module = ast.parse(text, filename=file)
    except SyntaxError as exc:
        raise InvalidInput(f"{file} is not valid Python: {exc.msg} (line {exc.lineno})") from None
    found: dict[str, tuple[Any, ast.expr]] = {}
    for statement in module.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        if not isinstance(target, ast.Name) or value is None or target.id.startswith("_"):
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            continue  # computed, not a parameter
        if isinstance(literal, (set, frozenset, bytes, complex)):
            continue
        found[target.id] = (_plain(literal), value)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _value_node(node: ast.expr, path: tuple[str, ...], file: str) -> ast.expr | None:
    """The node holding ``path``'s value (path[0] is the constant ``node`` is the value of);
    None when the last key is missing from its dict."""
    for depth, key in enumerate(path[1:], start=1):
        if not isinstance(node, ast.Dict):
            raise InvalidInput(f"{file}: {'.'.join(path[:depth])} is not a dict")
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if isinstance(key_node, ast.Constant) and str(key_node.value) == key:
                node = value_node
                break
        else:
            if depth == len(path) - 1:
                return None
            raise InvalidInput(f"{file} has no parameter {'.'.join(path[: depth + 1])!r}")
    return node


def _nested(change: Change) -> Any:
    value = change.value
    for part in reversed(change.path[1:]):
        value = {part: value}
    return value


def _literal(value: Any, node: ast.expr | None, text: str) -> str:
    """Python source for ``value``; a string keeps the quote character it had."""
    if isinstance(value, str):
        original = ast.get_source_segment(text, node) if node is not None else None
        if original is None or original.startswith('"'):
            return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _lines(text: str) -> list[str]:
    """The lines as Python counts them (``str.splitlines`` also breaks at form feeds and
    other characters Python's tokenizer does not)."""
    return _LINE.findall(text)


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in _lines(text):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _span(node: ast.expr, text: str, offsets: list[int]) -> _Span:
    """The node's character span (ast counts columns in UTF-8 bytes)."""
    assert node.end_lineno is not None and node.end_col_offset is not None
    lines = _lines(text)

    def at(line: int, byte_col: int) -> int:
        prefix = lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8")
        return offsets[line - 1] + len(prefix)

    return _Span(at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset))

"""MLflow's run search language: a filter of comparisons joined by ``AND``, and ``order_by``
terms. Parsed here into plain values; ``run_search`` turns them into SQL.

    metrics.accuracy > 0.9 AND params.optimizer = 'adam' AND tags."team name" LIKE 'vis%'
    attributes.status = 'FINISHED' AND attributes.run_id IN ('a1…', 'b2…')

Entities: ``metrics``, ``params``, ``tags``, ``attributes`` (also their singular forms,
``parameters`` and ``run``); a key with spaces or odd characters is quoted with backticks or
double quotes. Metrics compare with numbers (``= != < <= > >=``); params and tags with quoted
strings (``= != LIKE ILIKE``, and ``IS NULL``/``IS NOT NULL``); attributes by kind:
``run_name``, ``status``, ``user_id`` as strings, ``run_id`` also with ``IN``/``NOT IN``,
``start_time``/``end_time`` (milliseconds) as numbers. Anything else is refused, naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunelab.errors import InvalidInput

_ENTITIES = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
}


@dataclass(frozen=True)
class Attributes:
    """The attributes one kind of search knows: compared as strings or as numbers."""

    strings: frozenset[str]
    numbers: frozenset[str]


RUN_ATTRIBUTES = Attributes(
    frozenset({"run_name", "status", "user_id", "run_id"}), frozenset({"start_time", "end_time"})
)
EXPERIMENT_ATTRIBUTES = Attributes(
    frozenset({"name", "experiment_id"}), frozenset({"creation_time", "last_update_time"})
)
_ATTRIBUTE_ALIASES = {"created": "start_time", "Created": "start_time", "run_uuid": "run_id"}
NUMBER_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
LIST_OPS = frozenset({"IN", "NOT IN"})

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<backtick>`[^`]*`)
      | (?P<op>!=|<>|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[^\s=!<>(),'"`]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Comparison:
    entity: str  # metric | param | tag | attribute
    key: str
    op: str  # = != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True)
class OrderKey:
    entity: str
    key: str
    ascending: bool


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidInput(f"Invalid search expression near {text[position:][:40]!r}")
        kind = match.lastgroup or "word"
        found.append(_Token(kind, match.group(kind)))
        position = match.end()
    return found


class _Reader:
    def __init__(self, text: str, attributes: Attributes) -> None:
        self.text = text
        self.attributes = attributes
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise InvalidInput(f"Invalid search expression {self.text!r}: {what} expected")
        self.at += 1
        return token

    def word_is(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.upper() in words

    def identifier(self) -> tuple[str, str]:
        """``entity.key`` (a key quoted after the dot allowed); a bare name is an attribute."""
        token = self.take("an identifier")
        if token.kind != "word":
            raise InvalidInput(f"Invalid identifier {token.text!r} in {self.text!r}")
        entity_text, dot, key = token.text.partition(".")
        if not dot:
            return self.attribute(token.text)
        entity = _ENTITIES.get(entity_text.lower())
        if entity is None:
            raise InvalidInput(
                f"Invalid entity type {entity_text!r} in {self.text!r}: "
                "expected metrics, params, tags or attributes"
            )
        if not key:
            quoted = self.take("a key")
            if quoted.kind not in ("string", "backtick"):
                raise InvalidInput(f"Invalid key {quoted.text!r} in {self.text!r}")
            key = _unquote(quoted.text)
        elif key[0] in "`\"'":
            raise InvalidInput(f"Invalid key {key!r} in {self.text!r}")
        if entity == "attribute":
            return self.attribute(key)
        return entity, key

    def attribute(self, key: str) -> tuple[str, str]:
        known = self.attributes.strings | self.attributes.numbers
        key = _ATTRIBUTE_ALIASES.get(key, key) if key not in known else key
        if key not in known:
            raise InvalidInput(f"Invalid attribute key {key!r}: one of {', '.join(sorted(known))}")
        return "attribute", key


def _unquote(text: str) -> str:
    body = text[1:-1]
    if text[0] == "`":
        return body
    return re.sub(r"\\(.)", r"\1", body)


def parse_filter(text: str, attributes: Attributes = RUN_ATTRIBUTES) -> list[Comparison]:
    """The comparisons of a filter (all must hold); [] for an empty filter."""
    if not text or not text.strip():
        return []
    reader = _Reader(text, attributes)
    found = [_comparison(reader)]
    while reader.peek() is not None:
        if not reader.word_is("AND"):
            raise InvalidInput(
                f"Invalid search expression {text!r}: comparisons are joined by AND "
                f"(OR is not supported), got {reader.take('AND').text!r}"
            )
        reader.take("AND")
        found.append(_comparison(reader))
    return found


def _comparison(reader: _Reader) -> Comparison:
    entity, key = reader.identifier()
    op = _operator(reader)
    numeric = entity == "metric" or (entity == "attribute" and key in reader.attributes.numbers)
    if op in NULL_OPS:
        if entity not in ("param", "tag", "metric"):
            raise InvalidInput(f"{op} compares params, tags and metrics only, not {key!r}")
        return Comparison(entity, key, op, None)
    if op in LIST_OPS:
        if (entity, key) != ("attribute", "run_id"):
            raise InvalidInput(f"{op} is supported for attributes.run_id only, not {key!r}")
        return Comparison(entity, key, op, _string_list(reader))
    allowed = NUMBER_OPS if numeric else STRING_OPS
    if op not in allowed:
        raise InvalidInput(
            f"Invalid comparator {op!r} for {entity} {key!r}: one of {', '.join(sorted(allowed))}"
        )
    token = reader.take("a value")
    if numeric:
        try:
            number = float(token.text) if token.kind == "word" else None
        except ValueError:
            number = None
        if number is None:
            raise InvalidInput(
                f"Expected a number to compare {entity} {key!r} with, got {token.text!r}"
            )
        return Comparison(entity, key, op, number)
    if token.kind != "string":
        raise InvalidInput(
            f"Expected a quoted string to compare {entity} {key!r} with, got {token.text!r}"
        )
    return Comparison(entity, key, op, _unquote(token.text))


def _operator(reader: _Reader) -> str:
    token = reader.take("a comparator")
    if token.kind == "op":
        return "!=" if token.text == "<>" else token.text
    word = token.text.upper() if token.kind == "word" else ""
    if word in ("LIKE", "ILIKE", "IN"):
        return word
    if word == "NOT" and reader.word_is("IN"):
        reader.take("IN")
        return "NOT IN"
    if word == "IS":
        negated = reader.word_is("NOT")
        if negated:
            reader.take("NOT")
        if reader.word_is("NULL"):
            reader.take("NULL")
            return "IS NOT NULL" if negated else "IS NULL"
    raise InvalidInput(f"Invalid comparator {token.text!r} in {reader.text!r}")


def _string_list(reader: _Reader) -> tuple[str, ...]:
    if reader.take("(").text != "(":
        raise InvalidInput(f"Expected a parenthesised list of strings in {reader.text!r}")
    found: list[str] = []
    while True:
        token = reader.take("a string")
        if token.kind != "string":
            raise InvalidInput(f"Expected a quoted string in the list, got {token.text!r}")
        found.append(_unquote(token.text))
        punct = reader.take(") or ,").text
        if punct == ")":
            return tuple(found)
        if punct != ",":
            raise InvalidInput(f"Expected , or ) in the list, got {punct!r}")


def parse_order_by(text: str, attributes: Attributes = RUN_ATTRIBUTES) -> OrderKey:
    """One ``order_by`` term: ``metrics.loss``, ``params.lr DESC``, ``attributes.start_time
    ASC``, ``start_time``; ascending unless it says ``DESC``."""
    reader = _Reader(text, attributes)
    entity, key = reader.identifier()
    ascending = True
    if reader.word_is("ASC", "DESC"):
        ascending = reader.take("ASC").text.upper() == "ASC"
    if reader.peek() is not None:
        raise InvalidInput(f"Invalid order_by clause {text!r}")
    return OrderKey(entity, key, ascending)

"""Filters on a task's metric and hyperparameter values, as a table's column headers set them.

A filter is one line of text naming a column the way a sort does, an operator and a value::

    metrics.accuracy/val.last > 0.9
    metrics.loss/val.min between 0.1 and 0.3
    hyperparameters.Args/optimizer = adam
    hyperparameters.Args/lr <= 0.01
    hyperparameters.Args/seed is set
    metrics.loss/val.last is not set

Metric values compare as numbers. A hyperparameter compares as a number where the filter's
value is one and the task's value is a stored number; ``=`` and ``!=`` otherwise compare text.
Each filter is an ``EXISTS`` on the metric summary or the parameters table, served by their
(metric, variant, value) and (section, name, number) indexes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from tunelab.errors import InvalidInput
from tunelab.store.schema import PARAM_NUMBER_SQL, task_metrics, task_params, tasks

MAX_FILTERS = 20
MAX_FILTER_TEXT = 2048
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "between", "is set", "is not set")
FORMS = (
    "COLUMN = VALUE",
    "COLUMN != VALUE",
    "COLUMN > NUMBER (also >=, <, <=)",
    "COLUMN between NUMBER and NUMBER",
    "COLUMN is set",
    "COLUMN is not set",
)
# Longest operators first, so ">=" is not read as ">" followed by "=VALUE".
_COMPARISON = re.compile(r"^(?P<column>.+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.*)$", re.S)
_BETWEEN = re.compile(r"^(?P<column>.+?)\s+between\s+(?P<low>\S+)\s+and\s+(?P<high>\S+)$", re.I)
_SET = re.compile(r"^(?P<column>.+?)\s+is\s+(?P<not>not\s+)?set$", re.I)


@dataclass(frozen=True)
class TaskFilter:
    """One parsed filter: the column (as ``parse_column`` names it), the operator and its
    values (none for the is-set forms, two for ``between``)."""

    column: str
    op: str
    values: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.op == "between":
            return f"{self.column} between {self.values[0]} and {self.values[1]}"
        if self.op in ("is set", "is not set"):
            return f"{self.column} {self.op}"
        return f"{self.column} {self.op} {self.values[0]}"


def parse_filter(text: str) -> TaskFilter:
    """``metrics.loss/val.last < 0.3`` and the other forms in this module's docstring."""
    if len(text) > MAX_FILTER_TEXT:
        raise InvalidInput(f"invalid filter: longer than {MAX_FILTER_TEXT} characters")
    line = text.strip()
    found: TaskFilter | None = None
    if match := _SET.match(line):
        found = TaskFilter(match["column"], "is not set" if match["not"] else "is set")
    elif match := _BETWEEN.match(line):
        found = TaskFilter(match["column"], "between", (match["low"], match["high"]))
    elif (match := _COMPARISON.match(line)) and match["value"].strip():
        found = TaskFilter(match["column"], match["op"], (match["value"].strip(),))
    if found is None:
        raise InvalidInput(
            f"invalid filter {text!r}: use {'; '.join(FORMS)}",
            detail={"valid": list(FORMS)},
        )
    # Imported here: task_columns imports the listing, which imports this module.
    from tunelab.store.task_columns import parse_column

    column = parse_column(found.column.strip())
    needs_numbers = column.is_metric or found.op in (">", ">=", "<", "<=", "between")
    if needs_numbers:
        for value in found.values:
            if _number(value) is None:
                raise InvalidInput(f"invalid filter {text!r}: {value!r} is not a number")
    if found.op == "between":
        low, high = (_number(v) for v in found.values)
        if low is not None and high is not None and low > high:
            raise InvalidInput(f"invalid filter {text!r}: the range's low end is above its high")
    return TaskFilter(column.key, found.op, found.values)


def parse_filters(texts: Sequence[str]) -> list[TaskFilter]:
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    if len(unique) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters")
    return [parse_filter(t) for t in unique]


def filter_conditions(
    conn: sa.Connection, filters: Sequence[TaskFilter]
) -> list[ColumnElement[bool]]:
    """A WHERE condition on ``tasks`` for each filter."""
    from tunelab.store.task_columns import parse_column

    where: list[ColumnElement[bool]] = []
    for task_filter in filters:
        column = parse_column(task_filter.column)
        if column.is_metric:
            # An alias: a listing sorted by a metric reads task_metrics itself, and the
            # EXISTS must correlate with tasks only.
            metric = task_metrics.alias("filtered_metric")
            m = metric.c
            value = m[column.value]
            named = [
                m.task_id == tasks.c.id,
                m.metric == column.metric,
                m.variant == column.variant,
            ]
            numbers = [float(v) for v in task_filter.values]
            where.append(_exists(named, value, value, task_filter.op, numbers))
        else:
            param = task_params.alias("filtered_param")
            p = param.c
            named = [p.task_id == tasks.c.id, p.section == column.section, p.name == column.name]
            where.append(_param_condition(conn, param, task_filter, named))
    return where


def _param_condition(
    conn: sa.Connection,
    param: NamedFromClause,
    task_filter: TaskFilter,
    named: list[ColumnElement[bool]],
) -> ColumnElement[bool]:
    op, values = task_filter.op, task_filter.values
    text = param.c.value
    # Spelled exactly as the index ix_task_params_section_name_number is (on the alias).
    sql = PARAM_NUMBER_SQL[conn.dialect.name].format(t=f"{param.name}.")
    number = sa.literal_column(f"({sql})", sa.Float(53))
    if op in ("=", "!=") and _number(values[0]) is None:
        return _exists(named, text, text, op, [values[0]])
    if op in ("=", "!="):
        # "0.001" matches a stored 1e-3 by number, and a text parameter by its text.
        equal = sa.or_(number == float(values[0]), text == values[0])
        found = sa.exists().where(*named, equal)
        return sa.not_(found) if op == "!=" else found
    numbers = [float(v) for v in values]
    return _exists(named, number, text, op, numbers)


def _exists(
    named: list[ColumnElement[bool]],
    value: ColumnElement[Any],
    present: ColumnElement[Any],
    op: str,
    operands: Sequence[object],
) -> ColumnElement[bool]:
    """EXISTS a row of ``table`` for the task whose ``value`` passes ``op``; ``present`` is
    what must be non-NULL for the value to count as set."""
    if op == "is set":
        return sa.exists().where(*named, present.is_not(None))
    if op == "is not set":
        return sa.not_(sa.exists().where(*named, present.is_not(None)))
    if op == "between":
        return sa.exists().where(*named, value.between(operands[0], operands[1]))
    if op == "!=":
        # A task whose value differs, or that has none, passes: "not adam" keeps the rest.
        return sa.not_(sa.exists().where(*named, value == operands[0]))
    compare = {
        "=": value.__eq__,
        ">": value.__gt__,
        ">=": value.__ge__,
        "<": value.__lt__,
        "<=": value.__le__,
    }[op]
    return sa.exists().where(*named, compare(operands[0]))


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None

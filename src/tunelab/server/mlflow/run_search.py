"""``runs/search`` as SQL: the parsed filter (``search_filter``) as conditions on tasks,
their metric summaries, hyperparameters, user properties and tags; ``order_by`` as sort
keys (a run without the value sorts last either way); pages by offset.

Metrics compare their latest value (the summary's ``last``), as MLflow's search does; params
and tags compare as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tunelab.errors import InvalidInput
from tunelab.server.mlflow import mapping
from tunelab.server.mlflow.search_filter import Comparison, OrderKey
from tunelab.store.schema import task_metrics, task_params, task_properties, task_tags, tasks

t = tasks.c
_START = sa.func.coalesce(t.started, t.created)
_TAG_COLUMNS: dict[str, ColumnElement[Any]] = {
    mapping.RUN_NAME: t.name,
    mapping.USER: t.user,
    mapping.NOTE: t.comment,
    mapping.PARENT: t.parent_id,
}


def search(
    conn: sa.Connection,
    project_ids: Sequence[str],
    view_type: str,
    comparisons: Sequence[Comparison],
    order: Sequence[OrderKey],
    offset: int,
    limit: int,
) -> tuple[list[str], bool]:
    """The ids of one page of matching runs, and whether more follow."""
    query = sa.select(t.id).where(t.project_id.in_(list(project_ids)))
    if view_type == "ACTIVE_ONLY":
        query = query.where(t.archived == sa.false())
    elif view_type == "DELETED_ONLY":
        query = query.where(t.archived == sa.true())
    query = query.where(*(_condition(c) for c in comparisons))
    sort = [_sort(key) for key in order] or [_START.desc().nulls_last()]
    query = query.order_by(*sort, t.id).offset(offset).limit(limit + 1)
    ids = list(conn.execute(query).scalars())
    return ids[:limit], len(ids) > limit


# --- conditions -----------------------------------------------------------------------------


def _condition(c: Comparison) -> ColumnElement[bool]:
    if c.entity == "metric":
        return _metric_condition(c)
    if c.entity == "param":
        return _param_condition(c)
    if c.entity == "tag":
        return _tag_condition(c)
    return _attribute_condition(c)


def _compare(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    found: ColumnElement[bool] = _comparison(column, op, value)
    return found


def _comparison(column: ColumnElement[Any], op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return sa.func.lower(column).like(str(value).lower())
    raise InvalidInput(f"Invalid comparator {op!r}")


def _metric_where(key: str) -> list[ColumnElement[bool]]:
    title, series = mapping.metric_names(key)
    m = task_metrics.c
    return [m.task_id == t.id, m.metric == title, m.variant == series]


def _metric_condition(c: Comparison) -> ColumnElement[bool]:
    found = sa.exists().where(*_metric_where(c.key))
    if c.op == "IS NULL":
        return ~found
    if c.op == "IS NOT NULL":
        return found
    return found.where(_compare(task_metrics.c["last"], c.op, c.value))


def _param_where(key: str) -> list[ColumnElement[bool]]:
    p = task_params.c
    places = [sa.and_(p.section == s, p.name == n) for s, n in mapping.param_places(key)]
    return [p.task_id == t.id, sa.or_(*places)]


def _param_condition(c: Comparison) -> ColumnElement[bool]:
    found = sa.exists().where(*_param_where(c.key))
    if c.op == "IS NULL":
        return ~found
    if c.op == "IS NOT NULL":
        return found
    return found.where(_compare(task_params.c.value, c.op, c.value))


def _tag_condition(c: Comparison) -> ColumnElement[bool]:
    column = _tag_column(c.key)
    if column is not None:
        if c.op == "IS NULL":
            return sa.or_(column.is_(None), column == "")
        if c.op == "IS NOT NULL":
            return sa.and_(column.is_not(None), column != "")
        return _compare(column, c.op, c.value)
    p = task_properties.c
    prop = sa.exists().where(p.task_id == t.id, p.name == c.key)
    label = sa.exists().where(task_tags.c.task_id == t.id, task_tags.c.tag == c.key)
    if c.op == "IS NULL":
        return sa.and_(~prop, ~label)
    if c.op == "IS NOT NULL":
        return sa.or_(prop, label)
    matched = prop.where(_compare(p.value, c.op, c.value))
    # A label is a tag with an empty value.
    return sa.or_(matched, label) if _holds("", c.op, str(c.value)) else matched


def _tag_column(key: str) -> ColumnElement[Any] | None:
    if key in _TAG_COLUMNS:
        return _TAG_COLUMNS[key]
    if key in mapping.SOURCE_TAGS:
        field: ColumnElement[Any] = t.execution[mapping.SOURCE_TAGS[key]].as_string()
        return field
    return None


def _attribute_condition(c: Comparison) -> ColumnElement[bool]:
    if c.key == "status":
        return _status_condition(c)
    if c.key in ("start_time", "end_time"):
        column = _START if c.key == "start_time" else t.completed
        assert isinstance(c.value, float)
        return _compare(column, c.op, c.value / 1000)
    column = {"run_name": t.name, "user_id": t.user, "run_id": t.id}[c.key]
    if c.op in ("IN", "NOT IN"):
        listed = list(c.value) if isinstance(c.value, tuple) else []
        return column.in_(listed) if c.op == "IN" else column.not_in(listed)
    return _compare(column, c.op, c.value)


def _status_condition(c: Comparison) -> ColumnElement[bool]:
    value = str(c.value)
    if c.op in ("=", "!="):
        matching = [s for s in mapping.RUN_STATUSES if s == value]
    else:
        matching = [s for s in mapping.RUN_STATUSES if _holds(s, c.op, value)]
    statuses = [task for run in matching for task in mapping.task_statuses(run)]
    return t.status.not_in(statuses) if c.op == "!=" else t.status.in_(statuses)


def _holds(text: str, op: str, value: str) -> bool:
    """A string comparison evaluated here (a label's empty value, a status name)."""
    if op == "=":
        return text == value
    if op == "!=":
        return text != value
    flags = re.IGNORECASE if op == "ILIKE" else 0
    pattern = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in value)
    return re.fullmatch(pattern, text, flags | re.DOTALL) is not None


# --- order ----------------------------------------------------------------------------------


def _sort(key: OrderKey) -> Any:
    column = _sort_column(key)
    return (column.asc() if key.ascending else column.desc()).nulls_last()


def _sort_column(key: OrderKey) -> ColumnElement[Any]:
    if key.entity == "metric":
        return sa.select(task_metrics.c["last"]).where(*_metric_where(key.key)).scalar_subquery()
    if key.entity == "param":
        return (
            sa.select(task_params.c.value).where(*_param_where(key.key)).limit(1).scalar_subquery()
        )
    if key.entity == "tag":
        column = _tag_column(key.key)
        if column is not None:
            return column
        p = task_properties.c
        return sa.select(p.value).where(p.task_id == t.id, p.name == key.key).scalar_subquery()
    return {
        "start_time": _START,
        "end_time": t.completed,
        "run_name": t.name,
        "status": t.status,
        "run_id": t.id,
        "user_id": t.user,
    }[key.key]

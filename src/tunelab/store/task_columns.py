"""Extra columns of a task table: hyperparameters and metric values beside the task fields.

A column is named as a sort is (``hyperparameters.Args/lr``, ``metrics.loss/val.min``), so
a table sorts by any column it shows. ``column_values`` reads a page's worth of them, one
query per kind; ``columns_on_offer`` lists the names a project's tasks use, from a bounded
sample of its most recently updated tasks, so it stays quick however many tasks there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tunelab.domain.system_metrics import MONITOR_PREFIX
from tunelab.errors import InvalidInput
from tunelab.store.lookup import visible_only
from tunelab.store.projects import project_ids
from tunelab.store.schema import task_metrics, task_params, tasks
from tunelab.store.task_listing import METRIC_VALUES, SortKey, parse_order_by

MAX_COLUMNS = 30
# The names on offer come from this many of the project's most recently updated tasks...
SAMPLE_TASKS = 2_000
# ...and at most this many names of each kind are offered.
MAX_NAMES = 500


@dataclass(frozen=True)
class Column:
    """An extra column: a hyperparameter (section, name) or a metric's last/min/max."""

    key: str
    section: str = ""
    name: str = ""
    metric: str = ""
    variant: str = ""
    value: str = ""

    @property
    def is_metric(self) -> bool:
        return bool(self.metric)

    @property
    def label(self) -> str:
        if self.is_metric:
            return f"{self.metric}/{self.variant} {self.value}"
        return f"{self.section}/{self.name}"


def parse_column(text: str) -> Column:
    """``hyperparameters.SECTION/NAME`` or ``metrics.METRIC/VARIANT.last|min|max``."""
    if text.startswith("-"):
        raise InvalidInput(f"invalid column {text!r}: a column has no direction")
    try:
        key: SortKey = parse_order_by(text)
    except InvalidInput:
        key = SortKey(False)
    if key.field or not (key.param or key.metric):
        raise InvalidInput(
            f"invalid column {text!r}: use hyperparameters.SECTION/NAME or "
            f"metrics.METRIC/VARIANT.{'|'.join(METRIC_VALUES)}"
        )
    return Column(
        key=text,
        section=key.section,
        name=key.param,
        metric=key.metric,
        variant=key.variant,
        value=key.value,
    )


def parse_columns(texts: Sequence[str]) -> list[Column]:
    """The columns named, in order, each once."""
    unique = list(dict.fromkeys(t for t in texts if t))
    if len(unique) > MAX_COLUMNS:
        raise InvalidInput(f"at most {MAX_COLUMNS} extra columns")
    return [parse_column(t) for t in unique]


def column_values(
    conn: sa.Connection, task_ids: Sequence[str], columns: Sequence[Column]
) -> dict[str, dict[str, Any]]:
    """``{task_id: {column key: value}}`` for the tasks given; a task lacking a value has no
    entry for that column. Hyperparameters are their text; metric values are floats."""
    found: dict[str, dict[str, Any]] = {task_id: {} for task_id in task_ids}
    if not task_ids:
        return found
    params = [c for c in columns if not c.is_metric]
    metrics = [c for c in columns if c.is_metric]
    if params:
        _add_params(conn, task_ids, params, found)
    if metrics:
        _add_metrics(conn, task_ids, metrics, found)
    return found


def _add_params(
    conn: sa.Connection,
    task_ids: Sequence[str],
    columns: Sequence[Column],
    found: dict[str, dict[str, Any]],
) -> None:
    keys = {(c.section, c.name): c.key for c in columns}
    p = task_params.c
    named = sa.or_(*(sa.and_(p.section == s, p.name == n) for s, n in keys))
    rows = conn.execute(
        sa.select(p.task_id, p.section, p.name, p.value).where(p.task_id.in_(task_ids), named)
    )
    for task_id, section, name, value in rows:
        found[task_id][keys[section, name]] = value


def _add_metrics(
    conn: sa.Connection,
    task_ids: Sequence[str],
    columns: Sequence[Column],
    found: dict[str, dict[str, Any]],
) -> None:
    wanted: dict[tuple[str, str], list[Column]] = {}
    for column in columns:
        wanted.setdefault((column.metric, column.variant), []).append(column)
    m = task_metrics.c
    named = sa.or_(*(sa.and_(m.metric == mt, m.variant == v) for mt, v in wanted))
    rows = conn.execute(
        sa.select(m.task_id, m.metric, m.variant, m.last, m.min, m.max).where(
            m.task_id.in_(task_ids), named
        )
    )
    for row in rows:
        for column in wanted[row.metric, row.variant]:
            value = getattr(row, column.value)
            if value is not None:
                found[row.task_id][column.key] = value


@dataclass(frozen=True)
class OnOffer:
    """Column names a project's tasks use: hyperparameters as (section, name), metrics as
    (metric, variant), each sorted; ``metrics`` are the user's, ``system_metrics`` the
    runs' system metrics (``:monitor:*``), offered apart; ``complete`` is False when the
    sample or the cap may have left some out."""

    hyperparameters: list[tuple[str, str]]
    metrics: list[tuple[str, str]]
    complete: bool
    system_metrics: list[tuple[str, str]] = field(default_factory=list)


def columns_on_offer(
    conn: sa.Connection, project: str | None = None, visible: Sequence[str] | None = None
) -> OnOffer:
    """The hyperparameter and metric names used by the project's (with its sub-projects')
    most recently updated tasks, or by all tasks' for no project; only tasks of the
    projects ``visible`` (ids) when given."""
    sample = _recent_tasks(conn, project)
    sample = sample.where(*visible_only(tasks.c.project_id, visible))
    sampled = conn.execute(sa.select(sa.func.count()).select_from(sample.subquery())).scalar_one()
    p, m = task_params.c, task_metrics.c
    hyperparameters = _distinct(conn, p.section, p.name, p.task_id.in_(sample))
    # The system metrics apart, so they never take the user's place under the cap.
    system = m.metric.startswith(MONITOR_PREFIX, autoescape=True)
    metrics = _distinct(conn, m.metric, m.variant, sa.and_(m.task_id.in_(sample), ~system))
    system_metrics = _distinct(conn, m.metric, m.variant, sa.and_(m.task_id.in_(sample), system))
    complete = (
        sampled < SAMPLE_TASKS
        and max(len(hyperparameters), len(metrics), len(system_metrics)) <= MAX_NAMES
    )
    return OnOffer(
        hyperparameters[:MAX_NAMES], metrics[:MAX_NAMES], complete, system_metrics[:MAX_NAMES]
    )


def _recent_tasks(conn: sa.Connection, project: str | None) -> sa.Select[tuple[str]]:
    query = sa.select(tasks.c.id)
    if project is not None:
        ids = project_ids(conn, project, include_subprojects=True)
        query = query.where(
            tasks.c.project_id == ids[0] if len(ids) == 1 else tasks.c.project_id.in_(ids)
        )
    return query.order_by(tasks.c.last_update.desc()).limit(SAMPLE_TASKS)


def _distinct(
    conn: sa.Connection,
    first: ColumnElement[str],
    second: ColumnElement[str],
    where: ColumnElement[bool],
) -> list[tuple[str, str]]:
    # One more than the cap, to tell a full list from a cut one.
    query = (
        sa.select(first, second)
        .where(where)
        .group_by(first, second)
        .order_by(first, second)
        .limit(MAX_NAMES + 1)
    )
    return [(a, b) for a, b in conn.execute(query)]

"""Narrowing a query of a task's per-series outputs (plots, debug samples): rows keyed by
``task_id``, ``title``, ``series`` and ``iteration``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def narrowed(
    query: sa.Select[Any],
    table: sa.Table,
    task_id: str,
    *,
    title: str | None,
    series: str | None,
    iteration: int | None,
    last_only: bool,
) -> sa.Select[Any]:
    """``query`` (of ``table``'s rows of ``task_id``) kept to one title, series or iteration
    when given, and to each series' greatest iteration with ``last_only``; ordered by title,
    series, iteration."""
    c = table.c
    if title is not None:
        query = query.where(c.title == title)
    if series is not None:
        query = query.where(c.series == series)
    if iteration is not None:
        query = query.where(c.iteration == iteration)
    if last_only:
        last = (
            sa.select(c.title, c.series, sa.func.max(c.iteration).label("iteration"))
            .where(c.task_id == task_id)
            .group_by(c.title, c.series)
            .subquery()
        )
        query = query.join(
            last,
            sa.and_(
                c.title == last.c.title,
                c.series == last.c.series,
                c.iteration == last.c.iteration,
            ),
        )
    return query.order_by(c.title, c.series, c.iteration)

"""Listing registered models: filters, a sort from a short list, pages with a total.

Ties break on the id in the sort's direction, so pages never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tunelab.errors import InvalidInput
from tunelab.store.lookup import visible_only
from tunelab.store.models import as_dicts
from tunelab.store.projects import project_ids
from tunelab.store.schema import model_tags, models

SORT_FIELDS = ("name", "created", "last_update", "framework")
MAX_PAGE_SIZE = 500
ARCHIVED_CHOICES = ("false", "true", "all")
# (page - 1) * page_size must fit the database's 64-bit OFFSET.
MAX_PAGE = 1_000_000_000


@dataclass(frozen=True)
class ModelQuery:
    project: str | None = None
    include_subprojects: bool = True
    tags: tuple[str, ...] = ()
    framework: str | None = None
    published: bool | None = None
    archived: str = "false"  # "true": the archived ones instead; "all": both
    search: str | None = None  # a substring of the name, any case
    name: str | None = None  # the exact name
    task_id: str | None = None
    order_by: str = "-created"
    page: int = 1
    page_size: int = 50
    # Only models of these projects (what the asking account may see); None: every project.
    visible: tuple[str, ...] | None = None


def list_models(conn: sa.Connection, query: ModelQuery) -> dict[str, Any]:
    """One page of ``Model`` dicts with the total the filters match."""
    descending = query.order_by.startswith("-")
    field = query.order_by.removeprefix("-")
    if field not in SORT_FIELDS:
        raise InvalidInput(
            f"cannot sort models by {query.order_by!r}: use one of {', '.join(SORT_FIELDS)}, "
            "with a leading '-' to sort descending",
            detail={"valid": list(SORT_FIELDS)},
        )
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    if query.page < 1:
        raise InvalidInput("page must be 1 or more")
    where = _filters(conn, query)
    total = conn.execute(sa.select(sa.func.count()).select_from(models).where(*where)).scalar_one()
    order = [models.c[field], models.c.id]
    rows = conn.execute(
        sa.select(models)
        .where(*where)
        .order_by(*(c.desc() if descending else c.asc() for c in order))
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    ).all()
    return {
        "items": as_dicts(conn, rows),
        "total": total,
        "page": query.page,
        "page_size": query.page_size,
    }


def _filters(conn: sa.Connection, query: ModelQuery) -> list[ColumnElement[bool]]:
    texts = [query.project, query.framework, query.search, query.name, query.task_id]
    if any(text and "\x00" in text for text in [*texts, *query.tags]):
        # PostgreSQL refuses a NUL in any query; no model could match one anyway.
        raise InvalidInput("a filter must not contain NUL characters")
    where: list[ColumnElement[bool]] = []
    where += visible_only(models.c.project_id, query.visible)
    if query.project is not None:
        ids = project_ids(conn, query.project, include_subprojects=query.include_subprojects)
        column = models.c.project_id
        where.append(column == ids[0] if len(ids) == 1 else column.in_(ids))
    for tag in sorted(set(query.tags)):
        where.append(
            sa.exists().where(model_tags.c.model_id == models.c.id, model_tags.c.tag == tag)
        )
    if query.framework is not None:
        where.append(models.c.framework == query.framework)
    if query.published is not None:
        where.append(models.c.published == (sa.true() if query.published else sa.false()))
    if query.archived not in ARCHIVED_CHOICES:
        raise InvalidInput(f"archived must be one of {', '.join(ARCHIVED_CHOICES)}")
    if query.archived != "all":
        where.append(models.c.archived == (sa.true() if query.archived == "true" else sa.false()))
    if query.search:
        where.append(models.c.name.icontains(query.search, autoescape=True))
    if query.name is not None:
        where.append(models.c.name == query.name)
    if query.task_id is not None:
        where.append(models.c.task_id == query.task_id)
    return where

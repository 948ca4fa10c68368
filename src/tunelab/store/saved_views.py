"""Saved views: a project's named experiments-table layouts (extra columns, sort, filters).

A view belongs to its project and is shared with everyone who may read it; names are unique
within the project. The layout is checked as a listing would read it, so a saved view always
opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.lookup import new_id, now
from tunelab.store.projects import names_by_id
from tunelab.store.schema import saved_views
from tunelab.store.task_columns import parse_columns
from tunelab.store.task_filters import parse_filters
from tunelab.store.task_listing import parse_order_by

MAX_NAME = 256
LAYOUT_FIELDS = ("cols", "sort", "filters")
DEFAULT_SORT = "-last_update"


def normalized_layout(layout: Mapping[str, Any]) -> dict[str, Any]:
    """``{"cols": [...], "sort": "...", "filters": [...]}``, each part checked."""
    unknown = set(layout) - set(LAYOUT_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown layout fields {sorted(unknown)}; known: {', '.join(LAYOUT_FIELDS)}"
        )
    cols, sort, filters = (
        layout.get("cols", []),
        layout.get("sort", DEFAULT_SORT),
        layout.get("filters", []),
    )
    if not _texts(cols) or not _texts(filters) or not isinstance(sort, str):
        raise InvalidInput("layout: cols and filters are lists of text, sort is text")
    parse_order_by(sort)
    return {
        "cols": [c.key for c in parse_columns(cols)],
        "sort": sort,
        "filters": [f.text for f in parse_filters(filters)],
    }


def list_views(conn: sa.Connection, project_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(saved_views)
        .where(saved_views.c.project_id == project_id)
        .order_by(saved_views.c.name)
    )
    return [_as_dict(row) for row in rows]


def create_view(
    conn: sa.Connection,
    project_id: str,
    name: str,
    layout: Mapping[str, Any],
    created_by: str | None = None,
) -> dict[str, Any]:
    name = _name(name)
    values = normalized_layout(layout)
    if not names_by_id(conn, [project_id]):
        raise NotFound(f"no project with id {project_id!r}")
    _refuse_taken(conn, project_id, name)
    stamp = now()
    view_id = new_id()
    conn.execute(
        saved_views.insert().values(
            id=view_id,
            project_id=project_id,
            name=name,
            layout=values,
            created_by=created_by,
            created=stamp,
            last_update=stamp,
        )
    )
    return get_view(conn, project_id, view_id)


def get_view(conn: sa.Connection, project_id: str, view_id: str) -> dict[str, Any]:
    row = conn.execute(
        sa.select(saved_views).where(
            saved_views.c.id == view_id, saved_views.c.project_id == project_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no saved view with id {view_id!r} in this project")
    return _as_dict(row)


def update_view(
    conn: sa.Connection,
    project_id: str,
    view_id: str,
    *,
    name: str | None = None,
    layout: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Renames the view and/or replaces its layout whole."""
    current = get_view(conn, project_id, view_id)
    changes: dict[str, Any] = {"last_update": now()}
    if name is not None and _name(name) != current["name"]:
        _refuse_taken(conn, project_id, _name(name))
        changes["name"] = _name(name)
    if layout is not None:
        changes["layout"] = normalized_layout(layout)
    conn.execute(saved_views.update().where(saved_views.c.id == view_id).values(**changes))
    return get_view(conn, project_id, view_id)


def delete_view(conn: sa.Connection, project_id: str, view_id: str) -> None:
    get_view(conn, project_id, view_id)
    conn.execute(saved_views.delete().where(saved_views.c.id == view_id))


def _refuse_taken(conn: sa.Connection, project_id: str, name: str) -> None:
    taken = conn.execute(
        sa.select(saved_views.c.id).where(
            saved_views.c.project_id == project_id, saved_views.c.name == name
        )
    ).first()
    if taken is not None:
        raise Conflict(f"this project already has a view named {name!r}")


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a view's name is 1 to {MAX_NAME} characters")
    return name


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "project": row.project_id,
        "name": row.name,
        "layout": row.layout,
        "created_by": row.created_by,
        "created": row.created,
        "last_update": row.last_update,
    }

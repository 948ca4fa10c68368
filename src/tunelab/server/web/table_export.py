"""CSV export of an experiments table as it is shown: the same filters, sort and extra
columns, every page of it.

The file streams: it is written a page at a time, each page read with the cursor of the
one before (``task_cursor``), so a table of 100,000 runs costs what its pages do and the
first bytes leave at once.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tunelab.errors import NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.security_headers import user_file_headers
from tunelab.server.web.table_query import TableState
from tunelab.server.web.visibility import visible_projects
from tunelab.store import task_columns, task_listing
from tunelab.store.projects import names_by_id
from tunelab.store.task_columns import Column
from tunelab.store.task_listing import TaskQuery

router = APIRouter(include_in_schema=False)

EXPORT_PAGE = 500
BASE_HEADER = (
    "id",
    "name",
    "project",
    "status",
    "type",
    "tags",
    "user",
    "started",
    "last_update",
    "last_iteration",
    "queue",
    "worker",
)


@router.get("/table/export.csv")
def export_table(request: Request, conn: Conn, project_id: str = "") -> StreamingResponse:
    """The table of ``/projects/{project_id}`` (or ``/experiments``) with this query string,
    as CSV: one row per experiment, the extra columns after the table's own."""
    project = None
    if project_id:
        project = names_by_id(conn, [project_id]).get(project_id)
        if project is None:
            raise NotFound(f"no project with id {project_id!r}")
        # A query parameter: the gate checks only what the path names.
        access.require_project(conn, current_principal(request), project, access.READ)
    state = TableState.from_params(request.query_params)
    query = dataclasses.replace(
        state.task_query(project),
        visible=visible_projects(request, conn),
        page=1,
        after=None,
        page_size=EXPORT_PAGE,
    )
    columns = state.columns
    # The first page is read now, while an error in the query (a status, a filter, a sort)
    # can still be a 400 rather than a cut-off file; the others stream.
    first, after = _page(conn, query, columns)
    engine: sa.Engine = request.app.state.engine
    name = (project or "experiments").replace("/", "-")
    # A download, like any file a user's data fills: saved, never shown as a page.
    headers = {**user_file_headers(f"{_safe(name)}.csv"), "Cache-Control": "no-store"}
    return StreamingResponse(
        _lines(engine, query, columns, first, after),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


def _lines(
    engine: sa.Engine, query: TaskQuery, columns: list[Column], first: str, after: str | None
) -> Iterator[str]:
    yield _row([*BASE_HEADER, *(c.key for c in columns)])
    yield first
    while after is not None:
        # A short transaction per page: a long export holds no lock or snapshot throughout.
        with engine.connect() as conn:
            text, after = _page(conn, dataclasses.replace(query, after=after), columns)
        yield text


def _page(conn: sa.Connection, query: TaskQuery, columns: list[Column]) -> tuple[str, str | None]:
    """One page's rows as CSV, and the cursor of the next page (None after the last)."""
    listing = task_listing.list_tasks(conn, query)
    items = listing["items"]
    values = task_columns.column_values(conn, [t["id"] for t in items], columns)
    text = "".join(_row(_cells(task, values[task["id"]], columns)) for task in items)
    return text, listing["next"]


def _cells(task: dict[str, Any], extra: dict[str, Any], columns: list[Column]) -> list[Any]:
    return [
        task["id"],
        task["name"],
        task["project"]["name"],
        task["status"],
        task["type"],
        " ".join(task["tags"]),
        task["user"],
        _time(task["started"]),
        _time(task["last_update"]),
        task["last_iteration"],
        task["queue"] or "",
        task["worker"] or "",
        *(extra.get(c.key, "") for c in columns),
    ]


def _row(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [_no_formula(c) if isinstance(c, str) else c for c in cells]
    )
    return out.getvalue()


def _no_formula(text: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: names and tags are
    # users' text, so such a cell is opened as text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _time(value: float | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "experiments"

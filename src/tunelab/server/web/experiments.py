"""The experiments table: a project's (``/projects/{id}``) or everyone's (``/experiments``).

One fragment (``experiments/_table.html``) holds the filters, the bulk bar, the table and
its pager; htmx re-fetches it whole with the new URL pushed, and a plain GET of the same URL
renders the page around it. The rows part re-fetches itself when tasks change: while a row
shown is queued or running, every few seconds; otherwise when the version of what the
filters match (``/table/version``, one aggregate query) moves.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tunelab.domain.task import TaskType
from tunelab.errors import NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.web.commit_view import commits_table
from tunelab.server.web.direction_menus import column_directions, may_set
from tunelab.server.web.table_query import TableState
from tunelab.server.web.templating import PAGE_HEADER, is_htmx, render
from tunelab.server.web.visibility import visible_projects
from tunelab.store import task_columns, task_listing
from tunelab.store.projects import names_by_id
from tunelab.store.upload_failures import failure_counts
from tunelab.store.workers import waiting_jobs

router = APIRouter(include_in_schema=False)

# (label, sort key or "" for none), in the order the table shows them.
BASE_COLUMNS = (
    ("Status", "status"),
    ("Name", "name"),
    ("Type", "type"),
    ("Tags", ""),
    ("User", "user"),
    ("Started", "started"),
    ("Updated", "last_update"),
    ("Iteration", "last_iteration"),
    ("Queue / worker", ""),
)
# Rows in these statuses change on their own: the table polls while it shows one.
LIVE_STATUSES = frozenset({"queued", "running"})
POLL_SECONDS = 3


@router.get("/experiments", response_class=HTMLResponse)
def all_experiments(request: Request, conn: Conn) -> HTMLResponse:
    return _table(request, conn, None)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_experiments(project_id: str, request: Request, conn: Conn) -> Response:
    project = _project(conn, project_id)
    if request.query_params.get("group") == "commit":
        # The same table grouped by the commits of the project's linked repository.
        return commits_table(request, conn, project)
    return _table(request, conn, project)


@router.get("/table/columns", response_class=HTMLResponse)
def column_picker(request: Request, conn: Conn, project_id: str = "") -> HTMLResponse:
    """The column picker's list (loaded when it is first opened): the hyperparameters and
    metrics the project's tasks use, each a link adding it to the table's URL."""
    project = _project(conn, project_id) if project_id else None
    if project:
        # A query parameter: the gate checks only what the path names.
        access.require_project(conn, current_principal(request), project["name"], access.READ)
    state = TableState.from_params(request.query_params)
    visible = visible_projects(request, conn)
    offer = task_columns.columns_on_offer(conn, project["name"] if project else None, visible)
    context = {
        "state": state,
        "base": _base(project),
        "offer": offer,
        "shown": set(state.cols),
        "metric_values": task_listing.METRIC_VALUES,
    }
    return render(request, "experiments/_column_picker.html", context)


@router.get("/table/version")
def table_version(request: Request, conn: Conn, project_id: str = "", seen: str = "") -> Response:
    """What a settled table polls: nothing to swap, and ``tasks-changed`` (the rows re-read
    themselves) when the tasks its filters match are no longer the version ``seen``."""
    project = _project(conn, project_id) if project_id else None
    if project:
        access.require_project(conn, current_principal(request), project["name"], access.READ)
    version = _version(request, conn, project)
    headers = {PAGE_HEADER: "1", "Cache-Control": "no-store"}
    if version != seen:
        headers["HX-Trigger"] = "tasks-changed"
    return Response(status_code=204, headers=headers)


def _version(request: Request, conn: sa.Connection, project: dict[str, str] | None) -> str:
    state = TableState.from_params(request.query_params)
    query = state.task_query(project["name"] if project else None)
    visible = visible_projects(request, conn)
    return task_listing.listing_version(conn, dataclasses.replace(query, visible=visible))


def _table(request: Request, conn: sa.Connection, project: dict[str, str] | None) -> HTMLResponse:
    state = TableState.from_params(request.query_params)
    query = state.task_query(project["name"] if project else None)
    visible = visible_projects(request, conn)
    # Read before the rows: a change in between shows at the next poll, not never.
    version = _version(request, conn, project)
    listing = task_listing.list_tasks(conn, dataclasses.replace(query, visible=visible))
    columns = state.columns
    items = listing["items"]
    base = _base(project)
    context: dict[str, Any] = {
        "project": project,
        "state": state,
        "base": base,
        "self_url": state.url(base),
        "listing": listing,
        "items": items,
        "columns": columns,
        "values": task_columns.column_values(conn, [t["id"] for t in items], columns),
        "upload_failures": failure_counts(conn, [t["id"] for t in items]),
        "waiting": waiting_jobs(conn, [t["id"] for t in items if t["status"] == "running"]),
        "base_columns": BASE_COLUMNS,
        "task_types": [t.value for t in TaskType],
        "live": any(t["status"] in LIVE_STATUSES for t in items),
        "poll_seconds": POLL_SECONDS,
        "picker_url": _picker_url(state, project),
        # Metric columns sort best first and offer a menu setting their direction.
        "directions": column_directions(conn, project["id"] if project else None, columns),
        "may_set_directions": bool(project)
        and may_set(conn, current_principal(request), project["name"] if project else ""),
    }
    if not context["live"]:
        # A settled table polls only the version of what it shows (a live one re-reads its
        # rows anyway).
        context["version_url"] = _scoped_url("/table/version", state, project, seen=version)
    # The same URL answers a fragment or a page: caches must keep them apart.
    headers = {"Vary": "HX-Request"}
    if not is_htmx(request):
        return render(request, "experiments/page.html", context, headers=headers)
    if request.headers.get("HX-Target") == "exp-table":
        # A new layout: the address bar shows it spelled as the table's own links spell it
        # (a submitted filter form would push "q=&tag=" and the form's order).
        headers["HX-Push-Url"] = context["self_url"]
    return render(request, "experiments/_table.html", context, headers=headers)


def _project(conn: sa.Connection, project_id: str) -> dict[str, str]:
    name = names_by_id(conn, [project_id]).get(project_id)
    if name is None:
        raise NotFound(f"no project with id {project_id!r}")
    return {"id": project_id, "name": name}


def _base(project: dict[str, str] | None) -> str:
    return f"/projects/{project['id']}" if project else "/experiments"


def _scoped_url(path: str, state: TableState, project: dict[str, str] | None, **extra: str) -> str:
    """``path`` with the table's query string, its project and ``extra`` appended."""
    pairs = [("project_id", project["id"])] if project else []
    pairs += list(extra.items())
    query = "&".join(part for part in (state.query_string(), urlencode(pairs)) if part)
    return f"{path}?{query}" if query else path


def _picker_url(state: TableState, project: dict[str, str] | None) -> str:
    query = state.query_string()
    if project:
        query = f"{query}&project_id={project['id']}" if query else f"project_id={project['id']}"
    return f"/table/columns?{query}" if query else "/table/columns"

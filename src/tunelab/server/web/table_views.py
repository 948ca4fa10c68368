"""The "Views" menu of a project's experiments table: the project's saved views, each a link
to the table laid out as it says, and a form saving the table's current layout (columns,
sort, filters) under a name, for everyone who reads the project.

The menu loads when first opened; saving answers the menu anew with the view in it. The
gate checks the path's project: reading for the menu, changing for a save.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.domain.path_names import segment
from tunelab.errors import TunelabError
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.web.action_form import Form
from tunelab.server.web.table_query import TableState
from tunelab.server.web.templating import render
from tunelab.store import saved_views
from tunelab.store.projects import get_project

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/table-views", response_class=HTMLResponse)
def views_menu(project_id: str, request: Request, conn: Conn) -> HTMLResponse:
    state = TableState.from_params(request.query_params)
    return _menu(request, conn, project_id, state)


@router.post("/projects/{project_id}/table-views", response_class=HTMLResponse)
def save_view(project_id: str, request: Request, conn: Conn, form: Form) -> HTMLResponse:
    """Save ``cols``, ``sort`` and each ``filter`` as the view ``name``."""
    cols = [c for c in form.get("cols").split(",") if c.strip()]
    sort = form.get("sort") or saved_views.DEFAULT_SORT
    layout = {"cols": cols, "sort": sort, "filters": form.all("filter")}
    state = TableState(cols=tuple(cols), sort=sort, filters=tuple(form.all("filter")))
    try:
        view = saved_views.create_view(
            conn, project_id, form.get("name"), layout, current_principal(request).name or None
        )
    except TunelabError as exc:
        if exc.status >= 500:
            raise
        return _menu(request, conn, project_id, state, error=exc.message)
    return _menu(request, conn, project_id, state, saved=view["name"])


def _menu(
    request: Request,
    conn: sa.Connection,
    project_id: str,
    state: TableState,
    *,
    error: str = "",
    saved: str = "",
) -> HTMLResponse:
    project = get_project(conn, project_id)
    base = f"/projects/{segment(project_id)}"
    views = [
        {
            "name": view["name"],
            "created_by": view["created_by"],
            "url": TableState(
                cols=tuple(view["layout"]["cols"]),
                sort=view["layout"]["sort"],
                filters=tuple(view["layout"]["filters"]),
            ).url(base),
        }
        for view in saved_views.list_views(conn, project_id)
    ]
    may_save = _may_change(request, conn, project["name"])
    context = {
        "project": project,
        "views": views,
        "state": state,
        "may_save": may_save,
        "save_url": f"{base}/table-views",
        "error": error,
        "saved": saved,
    }
    return render(request, "experiments/_views_menu.html", context)


def _may_change(request: Request, conn: sa.Connection, project_name: str) -> bool:
    try:
        access.require_project(conn, current_principal(request), project_name, access.WRITE)
    except TunelabError:
        return False
    return True

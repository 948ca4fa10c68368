"""What every tab of the experiment page shares: the task, its tabs, its live status.

The header (name, status, project, actions) and the tab bar are ``experiment/base.html``;
each tab is its own route and URL (``/experiments/{id}/{tab}``), so the back button moves
between tabs. While the task can still change on its own, the header polls ``/status``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.server.api.deps import Conn
from tunelab.server.web.templating import render
from tunelab.store import tasks

router = APIRouter(include_in_schema=False)

# (url segment, label), in the order the tab bar shows them.
TABS = (
    ("execution", "Execution"),
    ("configuration", "Configuration"),
    ("artifacts", "Artifacts"),
    ("info", "Info"),
    ("console", "Console"),
    ("scalars", "Scalars"),
    ("plots", "Plots"),
)


def experiment_context(conn: sa.Connection, task_id: str, tab: str) -> dict[str, Any]:
    """The context ``experiment/base.html`` needs: ``task`` (the API's whole Task), ``tab``
    and ``tabs``. Raises NotFound (a 404 page) for an unknown id."""
    return {"task": tasks.get_task(conn, task_id), "tab": tab, "tabs": TABS}


@router.get("/experiments/{task_id}")
def experiment_home(task_id: str, conn: Conn) -> RedirectResponse:
    tasks.get_task(conn, task_id)  # a 404 page for an unknown id, not a redirect to one
    return RedirectResponse(f"/experiments/{task_id}/execution", status_code=303)


@router.get("/experiments/{task_id}/status", response_class=HTMLResponse)
def experiment_status(task_id: str, request: Request, conn: Conn, seen: str = "") -> HTMLResponse:
    """The header's status badge. When the status differs from ``seen`` (the one the page
    shows), the response triggers ``task-status-changed`` so the open tab can refresh."""
    task = tasks.get_task(conn, task_id)
    headers = {"HX-Trigger": "task-status-changed"} if seen and seen != task["status"] else None
    return render(request, "experiment/_status.html", {"task": task}, headers=headers)

"""What every tab of the experiment page shares: the task, its tabs, its live status.

The header (name, status, project, actions) and the tab bar are ``experiment/base.html``;
each tab is its own route and URL (``/experiments/{id}/{tab}``), so the back button moves
between tabs. Until the task is published the header polls ``/status``, so every tab follows
a change made elsewhere (the CLI, the API, another tab or user).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.launch import read_launch
from tunelab.domain.pipeline_record import CONTROLLER_TYPE
from tunelab.server.api.deps import Conn
from tunelab.server.web import experiment_names
from tunelab.server.web.templating import render
from tunelab.store import tasks
from tunelab.store.task_status import read_state

router = APIRouter(include_in_schema=False)
router.include_router(experiment_names.router)

# (url segment, label), in the order the tab bar shows them.
TABS = (
    ("execution", "Execution"),
    ("configuration", "Configuration"),
    ("artifacts", "Artifacts"),
    ("info", "Info"),
    ("console", "Console"),
    ("scalars", "Scalars"),
    ("plots", "Plots"),
    ("debug_samples", "Debug Samples"),
)
# A pipeline run's graph (``pipeline_page``), first on a controller's page.
PIPELINE_TAB = ("pipeline", "Pipeline")
# An optimizer's trials and charts (``optimizer_page``), first on an optimizer's page.
OPTIMIZATION_TAB = ("optimization", "Optimization")


def experiment_context(conn: sa.Connection, task_id: str, tab: str) -> dict[str, Any]:
    """The context ``experiment/base.html`` needs: ``task`` (the API's whole Task), ``tab``
    and ``tabs``. Raises NotFound (a 404 page) for an unknown id."""
    task = tasks.get_task(conn, task_id)
    tabs = (PIPELINE_TAB, *TABS) if task["type"] == CONTROLLER_TYPE else TABS
    if task["type"] == "optimizer":
        tabs = (OPTIMIZATION_TAB, *TABS)
    return {"task": task, "tab": tab, "tabs": tabs}


@router.get("/experiments/{task_id}")
def experiment_home(task_id: str, conn: Conn) -> RedirectResponse:
    tasks.get_task(conn, task_id)  # a 404 page for an unknown id, not a redirect to one
    return RedirectResponse(f"/experiments/{task_id}/execution", status_code=303)


@router.get("/experiments/{task_id}/status", response_class=HTMLResponse)
def experiment_status(
    task_id: str, request: Request, conn: Conn, seen: str = "", version: str = ""
) -> HTMLResponse:
    """The header's status badge. ``seen`` and ``version`` are the status and the task's
    ``last_update`` the page shows (any write to the task or its outputs moves it). When the
    status differs the answer triggers ``task-status-changed``; when only the version does,
    ``task-outputs-changed``: each tab listens and refreshes what it shows. The events fire
    after the swap, so listeners read the new badge."""
    # Every open page asks this every 2 s: one read of the task's row, not the whole Task.
    row = read_state(conn, task_id)
    task = {
        "id": row.id,
        "status": row.status,
        "status_reason": row.status_reason,
        "last_update": row.last_update,
        "launch": read_launch(row.launch),
    }
    event = ""
    if seen and seen != row.status:
        event = "task-status-changed"
    elif version and version != str(row.last_update):
        event = "task-outputs-changed"
    headers = {"HX-Trigger-After-Swap": event} if event else None
    return render(request, "experiment/_status.html", {"task": task}, headers=headers)

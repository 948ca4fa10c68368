"""The Queues and Workers pages: each queue with its waiting experiments (reorder them,
take one out), and the workers with their queues, current task and last heartbeat.

A queue no worker serves is flagged: what is enqueued there waits until an agent serves
it. The lists refresh themselves every few seconds (htmx polling of the same URL, which
answers only the list for an htmx request).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.path_names import segment
from tunelab.errors import InvalidInput, NotFound
from tunelab.server.api.deps import Conn
from tunelab.server.api.lifecycle import WakeWorkers
from tunelab.server.web.action_form import Form, changed
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.visibility import visible_projects
from tunelab.store import lifecycle, queues, tasks, workers

router = APIRouter(include_in_schema=False)

# How often the lists ask again, in seconds: a worker heartbeats about this often too.
REFRESH_SECONDS = 3
MOVES = ("top", "up", "down", "bottom")


def picker_queues(request: Request, conn: sa.Connection) -> tuple[list[dict[str, Any]], str]:
    """Every queue (``store.queues.list_queues``, lengths of what the account may see) and
    the one a queue picker starts on: the default queue if a worker serves it, else the
    first one some worker serves, else the default queue."""
    on_offer = queues.list_queues(conn, visible_projects(request, conn))
    served = [q["name"] for q in on_offer if q["workers"]]
    if queues.DEFAULT_QUEUE in served or not served:
        return on_offer, queues.DEFAULT_QUEUE
    return on_offer, served[0]


def _page(
    request: Request, page: str, fragment: str, context: dict[str, Any], **kw: Any
) -> HTMLResponse:
    context = {**context, "refresh": REFRESH_SECONDS}
    return render(request, fragment if is_htmx(request) else page, context, **kw)


@router.get("/queues", response_class=HTMLResponse)
def queues_page(request: Request, conn: Conn) -> HTMLResponse:
    context = {"queues": queues.list_queues(conn, visible_projects(request, conn))}
    return _page(request, "queues/index.html", "queues/_list.html", context)


@router.get("/queues/{name}", response_class=HTMLResponse)
def queue_page(name: str, request: Request, conn: Conn) -> HTMLResponse:
    context = _queue(request, conn, name)
    return _page(request, "queues/detail.html", "queues/_entries.html", context)


def _queue(request: Request, conn: sa.Connection, name: str) -> dict[str, Any]:
    # NotFound (a 404 page) for an unknown queue; only the tasks the account may see.
    visible = visible_projects(request, conn)
    entries = queues.list_entries(conn, name, visible)
    (queue,) = [q for q in queues.list_queues(conn, visible) if q["name"] == name]
    return {"queue": queue, "entries": entries}


@router.post("/queues/{name}/entries/{task_id}/move", response_class=HTMLResponse)
def move_entry(name: str, task_id: str, request: Request, conn: Conn, form: Form) -> Response:
    """``to``: top, up, down or bottom; answers the queue's entries in their new order."""
    to = form.get("to")
    if to not in MOVES:
        raise InvalidInput(f"move to must be one of {', '.join(MOVES)}, got {to!r}")
    line = [entry["task"]["id"] for entry in queues.list_entries(conn, name)]
    if task_id not in line:
        raise NotFound(f"task {task_id!r} is not waiting in queue {name!r}")
    at = line.index(task_id)
    wanted = {"top": 0, "up": at - 1, "down": at + 1, "bottom": len(line) - 1}[to]
    wanted = min(max(wanted, 0), len(line) - 1)
    rest = [other for other in line if other != task_id]
    if wanted == 0:
        queues.move_entry(conn, name, task_id, "top")
    elif wanted >= len(rest):
        queues.move_entry(conn, name, task_id, "bottom")
    elif wanted != at:
        queues.move_entry(conn, name, task_id, "before", rest[wanted])
    if not is_htmx(request):
        return RedirectResponse(f"/queues/{segment(name)}", status_code=303)
    context = _queue(request, conn, name)
    return _page(request, "queues/detail.html", "queues/_entries.html", context)


@router.post("/queues/{name}/entries/{task_id}/remove")
def remove_entry(
    name: str, task_id: str, request: Request, conn: Conn, _wake: WakeWorkers
) -> Response:
    """Take the task out of the queue: it is a draft again (the same as dequeueing it)."""
    if queues.entry_queue(conn, task_id) != name:
        queues.queue_id_by_name(conn, name)  # an unknown queue is a 404 of its own
        raise NotFound(f"task {task_id!r} is not waiting in queue {name!r}")
    task = lifecycle.dequeue(conn, task_id)
    return changed(
        request,
        [task_id],
        f"Removed {task['name']} from {name}: a draft again",
        back_to=f"/queues/{segment(name)}",
    )


@router.get("/workers", response_class=HTMLResponse)
def workers_page(request: Request, conn: Conn) -> HTMLResponse:
    visible = visible_projects(request, conn)
    # A task of a project the account may not see is not named, nor is its id shown.
    found = workers.list_workers(conn, visible)
    running = {w["task_id"] for w in found if w["task_id"]}
    names = tasks.task_names(conn, running, visible)
    context = {"workers": found, "task_names": names, "jobs": workers.launched_jobs(conn, visible)}
    return _page(request, "queues/workers.html", "queues/_workers.html", context)

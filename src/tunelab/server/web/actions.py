"""Every lifecycle action in the browser: the modals (clone, reset, enqueue, delete), the
direct actions (dequeue, stop, publish, archive, unarchive), and with them the project
picker and the bulk actions (``action_picker``, ``action_bulk``).

Each action is the same store call as the API's route (``server.api.lifecycle``), so a
refusal is the store's own Conflict, shown as a toast with the API's message. Reset and
delete remove files from storage only after their transaction has committed
(``server.file_cleanup``), as the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from tunelab.domain.lifecycle import require_action
from tunelab.domain.task import TaskStatus
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle import WakeWorkers, note_enqueued
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.server.pipeline_stop import stop_task
from tunelab.server.web import action_bulk, action_picker
from tunelab.server.web.action_form import Form, changed, files_said
from tunelab.server.web.experiment_names import MAX_NAME_LENGTH
from tunelab.server.web.queues import picker_queues
from tunelab.server.web.templating import is_htmx, render
from tunelab.store import lifecycle, queues, tasks

router = APIRouter(include_in_schema=False)
# Before the per-task routes: "/experiments/bulk" is not a task id.
router.include_router(action_bulk.router)
router.include_router(action_picker.router)

MODAL_TITLES = {
    "clone": "Clone experiment",
    "reset": "Reset experiment",
    "enqueue": "Enqueue experiment",
    "delete": "Delete experiment",
}


def modal(request: Request, action: str, context: dict[str, Any]) -> HTMLResponse:
    """A modal's form: the fragment for the dialog, or a whole page holding it (its URL
    opened directly)."""
    template = f"actions/{action}.html"
    if is_htmx(request):
        return render(request, template, context)
    page = {**context, "body": template, "title": MODAL_TITLES.get(action, "Experiments")}
    return render(request, "actions/page.html", page)


def _task_for(conn: sa.Connection, task_id: str, action: str) -> dict[str, Any]:
    """The task, when its status allows ``action``; the store's Conflict otherwise, so a
    stale menu gets the refusal before a form is filled in."""
    task = tasks.get_task(conn, task_id)
    if action != "clone":
        require_action(action, TaskStatus(task["status"]), archived=bool(task["archived"]))
    return task


# --- modals ---------------------------------------------------------------------------------


@router.get("/experiments/{task_id}/clone", response_class=HTMLResponse)
def clone_modal(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return modal(request, "clone", {"task": _task_for(conn, task_id, "clone")})


@router.get("/experiments/{task_id}/reset", response_class=HTMLResponse)
def reset_modal(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return modal(request, "reset", {"task": _task_for(conn, task_id, "reset")})


@router.get("/experiments/{task_id}/enqueue", response_class=HTMLResponse)
def enqueue_modal(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    task = _task_for(conn, task_id, "enqueue")
    on_offer, selected = picker_queues(request, conn)
    return modal(request, "enqueue", {"task": task, "queues": on_offer, "selected": selected})


@router.get("/experiments/{task_id}/delete", response_class=HTMLResponse)
def delete_modal(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    return modal(request, "delete", {"task": _task_for(conn, task_id, "delete")})


# --- modal actions --------------------------------------------------------------------------


@router.post("/experiments/{task_id}/clone")
def clone_task(task_id: str, request: Request, conn: Conn, form: Form, who: Who) -> Response:
    project = form.get("project").strip()
    new_root = access.require_create_in(conn, who, project) if project else None
    name = form.get("name").strip()
    if len(name) > MAX_NAME_LENGTH or "\x00" in name:
        raise InvalidInput(f"a name is at most {MAX_NAME_LENGTH} characters, without NUL")
    draft = lifecycle.clone(
        conn,
        task_id,
        name=name or None,  # empty: "Clone Of <name>"
        project=project or None,
        comment=form.optional("comment"),
        set_as_parent=form.checked("set_as_parent"),
    )
    if new_root:
        access.grant_new_project(conn, who, new_root)
    return changed(
        request,
        [draft["id"]],
        f"Cloned into {draft['name']}",
        redirect=f"/experiments/{draft['id']}/execution",
    )


@router.post("/experiments/{task_id}/reset")
async def reset_task(task_id: str, request: Request, form: Form, _wake: WakeWorkers) -> Response:
    # Its own transaction, committed before any file is touched (as the API's reset).
    result = await in_transaction(request, lifecycle.reset, task_id)
    wanted = form.checked("delete_artifacts")
    cleanup = await delete_files(request, result.files if wanted else [])
    said, failed = files_said(cleanup, wanted)
    return changed(
        request,
        [task_id],
        f"Reset {result.task['name']}: a draft again.{said}",
        kind="warn" if failed else "ok",
        back_to=f"/experiments/{task_id}",
    )


@router.post("/experiments/{task_id}/enqueue")
def enqueue_task(
    task_id: str, request: Request, conn: Conn, who: Who, form: Form, _wake: WakeWorkers
) -> Response:
    queue = form.get("queue").strip() or queues.DEFAULT_QUEUE
    task = lifecycle.enqueue(conn, task_id, queue, who.user_id)
    note_enqueued(request, queue)
    return changed(
        request,
        [task_id],
        f"Enqueued {task['name']} in {queue}",
        back_to=f"/experiments/{task_id}",
    )


@router.post("/experiments/{task_id}/delete")
async def delete_task(task_id: str, request: Request, form: Form) -> Response:
    task, files = await in_transaction(request, _delete, task_id)
    wanted = form.checked("delete_artifacts")
    cleanup = await delete_files(request, files if wanted else [], changed_tasks=[task_id])
    said, failed = files_said(cleanup, wanted)
    project_page = f"/projects/{task['project']['id']}"
    # On the deleted task's own page there is nothing left to show: go to its project.
    on_its_page = f"/experiments/{task_id}" in request.headers.get("HX-Current-URL", "")
    return changed(
        request,
        [task_id],
        f"Deleted {task['name']}.{said}",
        kind="warn" if failed else "ok",
        back_to=project_page,
        redirect=project_page if on_its_page else None,
    )


def _delete(conn: sa.Connection, task_id: str) -> tuple[dict[str, Any], list[str]]:
    """The deleted task's record (for the message and its project) and its files."""
    task = tasks.get_task(conn, task_id)
    return task, lifecycle.delete(conn, task_id)


# --- direct actions -------------------------------------------------------------------------


def _stopped(task: dict[str, Any]) -> str:
    if task["status"] == TaskStatus.STOPPED.value:
        return f"Stopped {task['name']}"
    return f"Asked {task['name']} to stop: its agent ends it on its next heartbeat"


DIRECT_ACTIONS: dict[str, tuple[Callable[..., dict[str, Any]], Callable[[dict[str, Any]], str]]] = {
    "dequeue": (lifecycle.dequeue, lambda t: f"Dequeued {t['name']}: a draft again"),
    "stop": (lifecycle.stop, _stopped),
    "publish": (lifecycle.publish, lambda t: f"Published {t['name']}: read-only for good"),
    "archive": (lifecycle.archive, lambda t: f"Archived {t['name']}"),
    "unarchive": (lifecycle.unarchive, lambda t: f"Restored {t['name']} from the archive"),
}


def _direct_route(action: str) -> Callable[..., Response]:
    act, say = DIRECT_ACTIONS[action]

    def route(task_id: str, request: Request, conn: Conn, who: Who, _wake: WakeWorkers) -> Response:
        # Stop on a pipeline run's controller stops its steps too.
        task = stop_task(conn, who, task_id) if action == "stop" else act(conn, task_id)
        return changed(request, [task_id], say(task), back_to=f"/experiments/{task_id}")

    route.__name__ = f"{action}_task"
    return route


for _action in DIRECT_ACTIONS:
    router.add_api_route(
        f"/experiments/{{task_id}}/{_action}", _direct_route(_action), methods=["POST"]
    )

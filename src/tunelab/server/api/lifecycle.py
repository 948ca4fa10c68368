"""The task lifecycle: clone, reset, enqueue, dequeue, stop, publish, archive, delete, start.

Each route is one store call in one transaction; a refusal is a 409 whose message names the
task's status (``tunelab.domain.lifecycle``). Reset and delete remove the task's artifacts
and output models from the store; with ``delete_artifacts`` their files are deleted from
storage too, once the transaction has committed (``server.file_cleanup``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status

from tunelab.domain.access import Principal
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle_models import (
    CloneRequest,
    EnqueueRequest,
    ResetRequest,
    StartRequest,
    StopRequest,
)
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.store import lifecycle, queues, task_activity

router = APIRouter(tags=["lifecycle"])


def _wake_workers_after_commit(request: Request, background: BackgroundTasks) -> None:
    # Background tasks run after the response, and the route's transaction commits before
    # it (deps.Conn), so a woken long poll finds the change committed.
    request.state.enqueued_into = []
    background.add_task(_wake_workers, request)


def _wake_workers(request: Request) -> None:
    # The polls of the queues the route enqueued into (``note_enqueued``); every poll when
    # it named none.
    named: list[str | None] = request.state.enqueued_into
    for queue in named or [None]:
        request.app.state.work_signal.notify(queue)


def note_enqueued(request: Request, queue: str) -> None:
    """Wake only the workers of ``queue`` after the commit (a route with ``WakeWorkers``)."""
    request.state.enqueued_into.append(queue)


WakeWorkers = Annotated[None, Depends(_wake_workers_after_commit)]


@router.post("/tasks/{task_id}/clone", status_code=status.HTTP_201_CREATED)
def clone_task(
    task_id: str, conn: Conn, who: Who, body: CloneRequest | None = None
) -> dict[str, Any]:
    body = body or CloneRequest()
    new_root = access.require_create_in(conn, who, body.project) if body.project else None
    draft = lifecycle.clone(
        conn,
        task_id,
        name=body.name,
        project=body.project,
        comment=body.comment,
        set_as_parent=body.set_as_parent,
    )
    if new_root:
        access.grant_new_project(conn, who, new_root)
    return draft


@router.post("/tasks/{task_id}/reset")
async def reset_task(
    task_id: str, request: Request, _wake: WakeWorkers, body: ResetRequest | None = None
) -> dict[str, Any]:
    """The ``Task``, a draft again, with ``deleted_files`` and ``failed_files``."""
    body = body or ResetRequest()
    # Its own transaction, committed before any file is touched (deps.Conn would commit
    # only after this function returns).
    result = await in_transaction(request, lifecycle.reset, task_id)
    files = result.files if body.delete_artifacts else []
    return {**result.task, **await delete_files(request, files)}


@router.post("/tasks/{task_id}/enqueue")
def enqueue_task(
    task_id: str,
    conn: Conn,
    who: Who,
    request: Request,
    _wake: WakeWorkers,
    body: EnqueueRequest | None = None,
) -> dict[str, Any]:
    """The ``Task``, queued, with ``warning``: ``"no worker serves queue NAME"`` when no
    worker serves the queue (the task waits until one does), else ``""``."""
    queue = (body or EnqueueRequest()).queue
    task = lifecycle.enqueue(conn, task_id, queue, who.user_id)
    note_enqueued(request, queue)
    return {**task, "warning": queues.unserved_warning(conn, task.get("queue") or queue)}


@router.post("/tasks/{task_id}/dequeue")
def dequeue_task(task_id: str, conn: Conn, _wake: WakeWorkers) -> dict[str, Any]:
    return lifecycle.dequeue(conn, task_id)


@router.post("/tasks/{task_id}/stop")
def stop_task(
    task_id: str, conn: Conn, _wake: WakeWorkers, body: StopRequest | None = None
) -> dict[str, Any]:
    return lifecycle.stop(conn, task_id, (body or StopRequest()).reason)


@router.post("/tasks/{task_id}/ping")
def ping_task(task_id: str, conn: Conn) -> dict[str, Any]:
    """A run's sign of life while it sends nothing else: a running task without a worker
    that stays silent past the server's task timeout fails with "no activity"."""
    return task_activity.touch(conn, task_id)


@router.post("/tasks/{task_id}/publish")
def publish_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return lifecycle.publish(conn, task_id)


@router.post("/tasks/{task_id}/archive")
def archive_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return lifecycle.archive(conn, task_id)


@router.post("/tasks/{task_id}/unarchive")
def unarchive_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return lifecycle.unarchive(conn, task_id)


@router.delete("/tasks/{task_id}")
async def delete_task(
    task_id: str, request: Request, delete_artifacts: bool = False
) -> dict[str, Any]:
    """``{"deleted": id, "deleted_files", "failed_files"}``."""
    files = await in_transaction(request, lifecycle.delete, task_id)
    cleanup = await delete_files(
        request, files if delete_artifacts else [], changed_tasks=[task_id]
    )
    return {"deleted": task_id, **cleanup}


@router.post("/tasks/{task_id}/start")
def start_task(task_id: str, body: StartRequest, conn: Conn, who: Who) -> dict[str, Any]:
    """The Task, running on ``worker``, with ``task_key``: the key its code is to run with."""
    access.require_worker_id(conn, who, body.worker)
    return lifecycle.start(conn, task_id, body.worker, who.user_id, _draft_owner(who))


def _draft_owner(who: Principal) -> str | None:
    # A task key reads what its owner may: a worker account reads everything, so it is
    # nobody's owner (the key then reads its own task only).
    return None if who.is_worker else who.user_id

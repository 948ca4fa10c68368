"""The task lifecycle: clone, reset, enqueue, dequeue, stop, publish, archive, delete, start.

Each route is one store call in one transaction; a refusal is a 409 whose message names the
task's status (``tunelab.domain.lifecycle``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from tunelab.server.api.deps import Conn
from tunelab.server.api.lifecycle_models import (
    CloneRequest,
    EnqueueRequest,
    ResetRequest,
    StartRequest,
    StopRequest,
)
from tunelab.store import lifecycle

router = APIRouter(tags=["lifecycle"])


def _wake_workers_after_commit(request: Request, background: BackgroundTasks) -> None:
    # Background tasks run after the response, and the route's transaction commits before
    # it (deps.Conn), so a woken long poll finds the change committed.
    background.add_task(request.app.state.work_signal.notify)


WakeWorkers = Annotated[None, Depends(_wake_workers_after_commit)]


@router.post("/tasks/{task_id}/clone", status_code=status.HTTP_201_CREATED)
def clone_task(task_id: str, conn: Conn, body: CloneRequest | None = None) -> dict[str, Any]:
    body = body or CloneRequest()
    return lifecycle.clone(
        conn,
        task_id,
        name=body.name,
        project=body.project,
        comment=body.comment,
        set_as_parent=body.set_as_parent,
    )


@router.post("/tasks/{task_id}/reset")
def reset_task(
    task_id: str, conn: Conn, _wake: WakeWorkers, body: ResetRequest | None = None
) -> dict[str, Any]:
    body = body or ResetRequest()
    return lifecycle.reset(conn, task_id, delete_artifacts=body.delete_artifacts).task


@router.post("/tasks/{task_id}/enqueue")
def enqueue_task(
    task_id: str, conn: Conn, _wake: WakeWorkers, body: EnqueueRequest | None = None
) -> dict[str, Any]:
    return lifecycle.enqueue(conn, task_id, (body or EnqueueRequest()).queue)


@router.post("/tasks/{task_id}/dequeue")
def dequeue_task(task_id: str, conn: Conn, _wake: WakeWorkers) -> dict[str, Any]:
    return lifecycle.dequeue(conn, task_id)


@router.post("/tasks/{task_id}/stop")
def stop_task(
    task_id: str, conn: Conn, _wake: WakeWorkers, body: StopRequest | None = None
) -> dict[str, Any]:
    return lifecycle.stop(conn, task_id, (body or StopRequest()).reason)


@router.post("/tasks/{task_id}/publish")
def publish_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return lifecycle.publish(conn, task_id)


@router.post("/tasks/{task_id}/archive")
def archive_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return lifecycle.archive(conn, task_id)


@router.post("/tasks/{task_id}/unarchive")
def unarchive_task(task_id: str, conn: Conn) -> dict[str, Any]:
    return lifecycle.unarchive(conn, task_id)


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_task(task_id: str, conn: Conn) -> Response:
    lifecycle.delete(conn, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tasks/{task_id}/start")
def start_task(task_id: str, body: StartRequest, conn: Conn) -> dict[str, Any]:
    return lifecycle.start(conn, task_id, body.worker)

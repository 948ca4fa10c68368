"""Queues: list and create them, read and reorder their entries, take a task out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from tunelab.errors import NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle import WakeWorkers
from tunelab.server.api.lifecycle_models import MoveRequest, QueueCreate
from tunelab.store import lifecycle, queues

router = APIRouter(tags=["queues"])


@router.get("/queues")
def list_queues(conn: Conn, who: Who) -> dict[str, Any]:
    """Every queue; its length counts the waiting tasks the account may see."""
    return {"items": queues.list_queues(conn, access.visible_projects(conn, who))}


@router.post("/queues", status_code=status.HTTP_201_CREATED)
def create_queue(body: QueueCreate, conn: Conn, response: Response) -> dict[str, Any]:
    queue, created = queues.create_queue(conn, body.name)
    if not created:
        response.status_code = status.HTTP_200_OK
    return queue


@router.get("/queues/{name}/entries")
def list_entries(name: str, conn: Conn, who: Who) -> dict[str, Any]:
    """The waiting tasks the account may see (a queue is shared by projects)."""
    return {"items": queues.list_entries(conn, name, access.visible_projects(conn, who))}


@router.post("/queues/{name}/entries/{task_id}/move")
def move_entry(name: str, task_id: str, body: MoveRequest, conn: Conn, who: Who) -> dict[str, Any]:
    visible = access.visible_projects(conn, who)
    return {"items": queues.move_entry(conn, name, task_id, body.to, body.before, visible)}


@router.delete("/queues/{name}/entries/{task_id}")
def remove_entry(name: str, task_id: str, conn: Conn, _wake: WakeWorkers) -> dict[str, Any]:
    """The same as dequeueing the task: it is a draft again."""
    queues.queue_id_by_name(conn, name)  # an unknown queue is a 404 before anything else
    if queues.entry_queue(conn, task_id) != name:
        raise NotFound(f"task {task_id!r} is not waiting in queue {name!r}")
    return lifecycle.dequeue(conn, task_id)

"""``POST /tasks/batch``: many finished (or running) tasks in one request and one transaction.

What importers and optimizers send: each task is the body of ``POST /tasks`` (parameters,
configuration, its status: ``completed`` records a finished run) plus the scalar series it
reported, in the JSON form of ``POST /tasks/{id}/scalars``. Either every task is stored or,
on any refusal, none is; a refusal names the task by its index in the list.

Example::

    POST /api/v1/tasks/batch
    {"tasks": [{"name": "trial 1", "project": "sweep", "status": "completed",
                "hyperparameters": {"Args": {"lr": {"value": "0.1", "type": "float"}}},
                "scalars": [{"metric": "loss", "variant": "val",
                             "iterations": [0, 1], "values": [0.9, 0.5],
                             "timestamps": [1.7e9, 1.7e9]}]}]}
    -> 201 {"tasks": [{"id": "...", "name": "trial 1", "project": "sweep",
                       "status": "completed"}], "stored": 2}
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from tunelab.domain.access import Principal
from tunelab.errors import PayloadTooLarge, TunelabError
from tunelab.server import access
from tunelab.server.api.deps import Conn, Settings, Who
from tunelab.server.api.scalar_models import ScalarBatchIn, SeriesIn, decode_batch
from tunelab.server.api.task_models import TaskCreate
from tunelab.store import scalars, tasks

router = APIRouter(tags=["tasks"])

MAX_BATCH_TASKS = 1_000


class BatchTaskIn(TaskCreate):
    scalars: Annotated[list[SeriesIn], Field(max_length=10_000)] = Field(default_factory=list)


class TaskBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tasks: Annotated[list[BatchTaskIn], Field(min_length=1, max_length=MAX_BATCH_TASKS)]


@router.post("/tasks/batch", status_code=status.HTTP_201_CREATED)
def create_tasks(body: TaskBatchIn, conn: Conn, who: Who, settings: Settings) -> dict[str, Any]:
    """Create up to 1,000 tasks with their scalars; all or nothing."""
    # Every project and parent is checked before anything is written: a batch that names one
    # project the caller may not write is refused whole.
    new_roots = {
        root
        for project in dict.fromkeys(t.project for t in body.tasks)
        if (root := access.require_create_in(conn, who, project)) is not None
    }
    for parent in dict.fromkeys(t.parent for t in body.tasks if t.parent):
        access.require_task(conn, who, parent, access.READ)
    points = sum(len(s.iterations) for t in body.tasks for s in t.scalars)
    if points > settings.max_batch_points:
        raise PayloadTooLarge(
            f"the batch holds {points} points, more than the server's limit of "
            f"{settings.max_batch_points}; send it in smaller batches"
        )
    new: list[tasks.NewTask] = []
    merged: list[tuple[str, list[scalars.SeriesPoints]]] = []
    for index, item in enumerate(body.tasks):
        try:
            new.append(_prepare_one(conn, who, item))
            merged.append((new[-1].id, _series(item, settings.max_batch_points)))
        except TunelabError as exc:
            raise type(exc)(f"tasks[{index}]: {exc.message}", exc.detail) from None
    # Only the ids: reading each new task back whole would cost more than writing it.
    tasks.insert_tasks(conn, new)
    stored = scalars.ingest_new_tasks(conn, merged)
    for root in sorted(new_roots):
        access.grant_new_project(conn, who, root)
    created = [
        {"id": task.id, "name": item.name, "project": item.project, "status": item.status}
        for task, item in zip(new, body.tasks, strict=True)
    ]
    return {"tasks": created, "stored": stored}


def _prepare_one(conn: sa.Connection, who: Principal, item: BatchTaskIn) -> tasks.NewTask:
    fields = item.model_dump(exclude={"scalars"})
    if not who.open_access and who.name:
        fields["user"] = who.name  # as ``POST /tasks``: the key's account, not the body's
    return tasks.prepare_task(conn, **fields)


def _series(item: BatchTaskIn, max_points: int) -> list[scalars.SeriesPoints]:
    """The task's series checked and merged, to be stored with the others'."""
    if not item.scalars:
        return []
    batch = decode_batch(ScalarBatchIn.model_construct(series=item.scalars), max_points)
    return scalars.merge_series(batch.series)

"""Stopping a pipeline run on the server: its controller and every step still queued or
running. The API (``POST /tasks/{id}/pipeline/stop``, which ``tunelab pipeline stop``
calls), the Pipeline tab's button and the experiments table's Stop on a controller all
come here.

The steps are stopped here rather than left to the controller, which may be gone (killed
with its agent); a step is stopped only where the caller may change it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import Principal
from tunelab.domain.pipeline_record import ACTIVE, NOT_STARTED, pipeline_steps
from tunelab.errors import Conflict, NotFound
from tunelab.server import access
from tunelab.store import lifecycle, tasks
from tunelab.store.task_status import read_state

REASON = "pipeline stopped"


def stop_pipeline(
    conn: sa.Connection, principal: Principal, controller_id: str, reason: str = ""
) -> dict[str, Any]:
    """Stop the run: ``{"id", "status", "stopped": [step task ids asked to stop]}``.
    Conflict when the task is not a pipeline run."""
    controller = tasks.get_task(conn, controller_id)
    steps = pipeline_steps(controller)
    if steps is None:
        raise Conflict(f"task {controller_id} is not a pipeline run")
    reason = reason or REASON
    if controller["status"] in NOT_STARTED:
        # A clone's record is its source run's: those steps are not this run's to stop.
        steps = []
    if controller["status"] in ACTIVE:
        controller = lifecycle.stop(conn, controller_id, reason)
    stopped: list[str] = []
    for step in steps:
        if step.task_id is None or step.status not in ACTIVE or step.task_id in stopped:
            continue
        if not _active(conn, step.task_id):
            continue
        access.require_task(conn, principal, step.task_id, access.WRITE)
        lifecycle.stop(conn, step.task_id, reason)
        stopped.append(step.task_id)
    return {"id": controller_id, "status": controller["status"], "stopped": stopped}


def stop_task(conn: sa.Connection, principal: Principal, task_id: str) -> dict[str, Any]:
    """The Stop action: a task, or a whole pipeline run when the task is its controller."""
    task = lifecycle.stop(conn, task_id)
    if pipeline_steps(task) is not None:
        stop_pipeline(conn, principal, task_id)
        task = tasks.get_task(conn, task_id)
    return task


def _active(conn: sa.Connection, task_id: str) -> bool:
    try:
        return read_state(conn, task_id).status in ACTIVE
    except NotFound:  # deleted since: nothing to stop
        return False

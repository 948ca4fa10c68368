"""Pipeline runs: ``POST /tasks/{id}/pipeline/stop`` stops the controller and every step
still queued or running (``tunelab pipeline stop`` calls it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.lifecycle import WakeWorkers
from tunelab.server.api.lifecycle_models import StopRequest
from tunelab.server.pipeline_stop import stop_pipeline

router = APIRouter()


@router.post("/tasks/{task_id}/pipeline/stop")
def stop_pipeline_run(
    task_id: str, conn: Conn, who: Who, _wake: WakeWorkers, body: StopRequest | None = None
) -> dict[str, Any]:
    """Stop a pipeline run: ``{"id", "status", "stopped": [step task ids]}``; a 409 when
    the task is not a pipeline run (a controller with its ``Pipeline`` record)."""
    return stop_pipeline(conn, who, task_id, (body or StopRequest()).reason)

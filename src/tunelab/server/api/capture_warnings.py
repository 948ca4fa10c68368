"""A task's capture warnings: what the SDK could not record of the run, and why.

The run appends them (its task's key may: they are its outputs); ``GET /tasks/{id}`` carries
them as ``capture_warnings``. Appending is refused on a published task (a 409).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from tunelab.server.api.deps import Conn
from tunelab.server.api.task_models import _Body
from tunelab.store import capture_warnings
from tunelab.store.capture_warnings import MAX_PER_CALL, MAX_WHAT_LENGTH

router = APIRouter(tags=["tasks"])


class CaptureWarning(_Body):
    """What could not be captured, why, and when (seconds since the epoch; default now)."""

    what: Annotated[str, StringConstraints(min_length=1, max_length=MAX_WHAT_LENGTH)]
    reason: Annotated[str, StringConstraints(max_length=64 * 1024)] = ""
    time: Annotated[float, Field(ge=0, lt=1e11)] | None = None


class CaptureWarningsPost(_Body):
    """``POST /tasks/{id}/capture-warnings``: the warnings to append, oldest first."""

    warnings: Annotated[list[CaptureWarning], Field(max_length=MAX_PER_CALL)]


@router.post("/tasks/{task_id}/capture-warnings")
def append_capture_warnings(task_id: str, body: CaptureWarningsPost, conn: Conn) -> dict[str, Any]:
    warnings = [w.model_dump(exclude_none=True) for w in body.warnings]
    return capture_warnings.append_warnings(conn, task_id, warnings)

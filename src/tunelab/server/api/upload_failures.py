"""A task's failed uploads: the SDK records one when a file of the task could not be stored,
and clears it once a later upload of that name succeeds; the pages show them as a warning.

Recording one is allowed in any status but published (a 409 then), like storing an artifact.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import StringConstraints

from tunelab.server.api.deps import Conn
from tunelab.server.api.registry_bodies import Metadata, Uri
from tunelab.server.api.task_models import _Body
from tunelab.store import upload_failures

router = APIRouter(tags=["artifacts"])

UploadKind = Literal["artifact", "model"]
OutputName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class UploadFailurePost(_Body):
    """``POST /tasks/{id}/upload_failures``: which file, where it is, why it was not stored."""

    kind: UploadKind
    name: OutputName
    reason: Annotated[str, StringConstraints(max_length=64 * 1024)]
    path: Uri = ""
    host: Annotated[str, StringConstraints(max_length=256)] = ""
    uri: Uri = ""
    record: Metadata = {}


@router.get("/tasks/{task_id}/upload_failures")
def list_upload_failures(task_id: str, conn: Conn) -> dict[str, Any]:
    return {"upload_failures": upload_failures.list_failures(conn, task_id)}


@router.post("/tasks/{task_id}/upload_failures")
def record_upload_failure(task_id: str, body: UploadFailurePost, conn: Conn) -> dict[str, Any]:
    return upload_failures.record_failure(conn, task_id, **body.model_dump())


@router.delete("/tasks/{task_id}/upload_failures/{kind}/{name}")
def clear_upload_failure(task_id: str, kind: UploadKind, name: str, conn: Conn) -> dict[str, Any]:
    return {"cleared": upload_failures.clear_failure(conn, task_id, kind=kind, name=name)}

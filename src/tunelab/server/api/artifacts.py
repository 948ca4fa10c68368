"""A task's artifacts: records of files in object storage, by name.

Storing one is allowed in any status but published (a 409 then); the same name replaces.
Deleting one removes its record and, with ``?delete_file=true``, its file: after the
record's deletion has committed, so a file that cannot be deleted is reported in
``failed_files`` and the record stays deleted.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tunelab.server.api.deps import Conn
from tunelab.server.api.registry_bodies import ArtifactPut
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.store import artifacts

router = APIRouter(tags=["artifacts"])


@router.put("/tasks/{task_id}/artifacts/{name}")
def put_artifact(task_id: str, name: str, body: ArtifactPut, conn: Conn) -> dict[str, Any]:
    return artifacts.put_artifact(conn, task_id, name, **body.model_dump())


@router.get("/tasks/{task_id}/artifacts")
def list_artifacts(task_id: str, conn: Conn) -> dict[str, Any]:
    return {"artifacts": artifacts.list_artifacts(conn, task_id)}


@router.get("/tasks/{task_id}/artifacts/{name}")
def get_artifact(task_id: str, name: str, conn: Conn) -> dict[str, Any]:
    return artifacts.get_artifact(conn, task_id, name)


@router.delete("/tasks/{task_id}/artifacts/{name}")
async def delete_artifact(
    task_id: str, name: str, request: Request, delete_file: bool = False
) -> dict[str, Any]:
    # Its own transaction, committed before any file is touched (deps.Conn would commit
    # only after this function returns).
    files = await in_transaction(request, artifacts.delete_artifact, task_id, name)
    cleanup = await delete_files(request, files if delete_file else [])
    return {"deleted": name, **cleanup}

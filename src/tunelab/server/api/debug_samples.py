"""Debug sample routes: register a sample (the SDK, once its file is stored), list a task's
samples with the iterations of each series, and the newest sample of each series.

Registering with ``max_history`` keeps only that many newest iterations of the sample's
title/series; the records go in the route's own transaction, then the files no record
names any more are deleted from storage where the caller may have the server delete them
(``server.file_cleanup``: ``deleted_files``, ``failed_files`` in the answer).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tunelab.domain.debug_samples import KINDS, MAX_HISTORY, MAX_MIME_LENGTH, MAX_URI_LENGTH
from tunelab.server.api.deps import Conn
from tunelab.server.api.scalar_models import Name
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.store import debug_samples
from tunelab.store.debug_samples import StoredSample
from tunelab.store.lookup import require_task

router = APIRouter(tags=["debug samples"])

Iteration = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]


class DebugSampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Name
    series: Name
    iteration: Iteration = 0
    kind: str = Field(pattern="^(" + "|".join(KINDS) + ")$", description=", ".join(KINDS))
    mime: str = Field(min_length=1, max_length=MAX_MIME_LENGTH, pattern=r"^[\w.+-]+/[\w.+-]+$")
    uri: str = Field(min_length=1, max_length=MAX_URI_LENGTH)
    size: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] = 0
    max_history: Annotated[StrictInt, Field(ge=1, le=MAX_HISTORY)] | None = Field(
        default=None, description="keep only this many newest iterations of the series"
    )


@router.post("/tasks/{task_id}/debug_samples")
async def post_debug_sample(task_id: str, body: DebugSampleIn, request: Request) -> dict[str, Any]:
    """``{"stored": sample, "removed": [uri], "deleted_files", "failed_files"}``."""
    sample = body.model_dump(exclude={"max_history"})
    removed = await in_transaction(
        request, debug_samples.register_sample, task_id, sample, body.max_history
    )
    cleanup = await delete_files(request, removed)
    return {"stored": sample, "removed": removed, **cleanup}


@router.get("/tasks/{task_id}/debug_samples")
def get_debug_samples(
    task_id: str,
    conn: Conn,
    title: Annotated[str | None, Query(max_length=512)] = None,
    series: Annotated[str | None, Query(max_length=512)] = None,
    iteration: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
) -> dict[str, Any]:
    """Every sample (or those of ``title``/``series``/``iteration``), and ``series``: each
    title/series with its iterations, ascending."""
    require_task(conn, task_id)
    found = debug_samples.list_samples(
        conn, task_id, title=title, series=series, iteration=iteration
    )
    return {"samples": _json(found), "series": _series(conn, task_id)}


@router.get("/tasks/{task_id}/debug_samples/latest")
def get_latest_debug_samples(task_id: str, conn: Conn) -> dict[str, Any]:
    """The newest sample of each title/series, with its iterations."""
    require_task(conn, task_id)
    found = debug_samples.list_samples(conn, task_id, last_only=True)
    return {"samples": _json(found), "series": _series(conn, task_id)}


def _json(found: list[StoredSample]) -> list[dict[str, Any]]:
    return [sample.to_json() for sample in found]


def _series(conn: Any, task_id: str) -> list[dict[str, Any]]:
    iterations = debug_samples.sample_iterations(conn, task_id)
    return [
        {"title": title, "series": series, "iterations": its}
        for (title, series), its in iterations.items()
    ]

"""Scalar routes: ingest a batch, read series (downsampled) for one or many tasks, summaries.

Reads build their JSON directly (``ndarray.tolist()`` into a JSONResponse) rather than through
a response model: validating 100k-point arrays with pydantic would cost more than the read.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from numpy.typing import NDArray

from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE
from tunelab.errors import NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Settings, Who
from tunelab.server.api.scalar_models import ScalarBatchIn, decode_batch, decode_frame
from tunelab.server.api.task_models import INT64_MAX
from tunelab.server.db_gate import run_db
from tunelab.store import scalars
from tunelab.store.lookup import require_task
from tunelab.store.schema import tasks

router = APIRouter(tags=["scalars"])

MAX_POINTS_CAP = 10_000_000
MAX_TASKS_PER_READ = 100

MaxPoints = Annotated[
    int,
    Query(ge=0, le=MAX_POINTS_CAP, description="points per series; 0 = full resolution"),
]
Metrics = Annotated[list[str] | None, Query(alias="metric")]
Variants = Annotated[list[str] | None, Query(alias="variant")]
After = Annotated[
    int,
    Query(
        ge=0,
        le=INT64_MAX,
        description="a cursor from an earlier answer: only points stored since",
    ),
]


@router.post("/tasks/{task_id}/scalars")
def post_scalars(
    task_id: str, body: ScalarBatchIn, conn: Conn, settings: Settings
) -> dict[str, Any]:
    require_task(conn, task_id)
    batch = decode_batch(body, settings.max_batch_points)
    result = scalars.ingest_batch(conn, task_id, batch)
    return {"stored": result.stored, "duplicate": result.duplicate}


@router.post(
    "/tasks/{task_id}/scalars/frame",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "a binary scalar frame (see docs/api.md); the SDK sends these",
            "content": {FRAME_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def post_scalar_frame(task_id: str, request: Request, settings: Settings) -> dict[str, Any]:
    """The same batch as ``POST /tasks/{id}/scalars``, without base64 or JSON around the
    arrays: the server reads them straight from the request's bytes."""
    raw = await request.body()
    engine: sa.Engine = request.app.state.engine
    return await run_db(request, _ingest_frame, engine, task_id, raw, settings.max_batch_points)


def _ingest_frame(engine: sa.Engine, task_id: str, raw: bytes, max_points: int) -> dict[str, Any]:
    batch = decode_frame(raw, max_points)
    with engine.begin() as conn:
        require_task(conn, task_id)
        result = scalars.ingest_batch(conn, task_id, batch)
    return {"stored": result.stored, "duplicate": result.duplicate}


@router.get("/tasks/{task_id}/scalars", response_class=JSONResponse)
def get_task_scalars(
    task_id: str,
    conn: Conn,
    max_points: MaxPoints = 2000,
    metric: Metrics = None,
    variant: Variants = None,
    after: After = 0,
) -> JSONResponse:
    require_task(conn, task_id)
    read = scalars.read_scalars(conn, [task_id], metric, variant, max_points, after=after)
    return JSONResponse(_scalar_data(read, task_id))


@router.get("/scalars", response_class=JSONResponse)
def get_scalars(
    conn: Conn,
    who: Who,
    task: Annotated[list[str], Query(min_length=1, max_length=MAX_TASKS_PER_READ)],
    max_points: MaxPoints = 2000,
    metric: Metrics = None,
    variant: Variants = None,
    after: After = 0,
) -> JSONResponse:
    task_ids = list(dict.fromkeys(task))  # a repeated id is read once
    _require_tasks(conn, task_ids)
    for task_id in task_ids:
        access.require_task(conn, who, task_id, access.READ)
    read = scalars.read_scalars(conn, task_ids, metric, variant, max_points, after=after)
    tasks_data = {tid: _scalar_data(read, tid) for tid in task_ids}
    return JSONResponse({"tasks": tasks_data, "cursor": read.cursor})


@router.get("/tasks/{task_id}/metrics")
def get_metrics(task_id: str, conn: Conn) -> dict[str, Any]:
    require_task(conn, task_id)
    summaries = scalars.read_summaries(conn, [task_id])[task_id]
    return {
        "metrics": {
            metric: {variant: _summary(s) for variant, s in variants.items()}
            for metric, variants in summaries.items()
        }
    }


def _require_tasks(conn: sa.Connection, task_ids: list[str]) -> None:
    query = sa.select(tasks.c.id).where(tasks.c.id.in_(task_ids))
    known = set(conn.execute(query).scalars())
    missing = [tid for tid in task_ids if tid not in known]
    if missing:
        raise NotFound(f"no task with id {missing[0]!r}", {"missing": missing})


def _scalar_data(read: scalars.ScalarRead, task_id: str) -> dict[str, Any]:
    return {
        "metrics": {
            metric: {variant: _series(data) for variant, data in variants.items()}
            for metric, variants in read.series[task_id].items()
        },
        "cursor": read.cursors[task_id],
    }


def _series(data: scalars.SeriesData) -> dict[str, Any]:
    return {
        "x": data.x.tolist(),
        "y": _nullable(data.y),
        "t": data.t.tolist(),
        "total": data.total,
        "downsampled": data.downsampled,
    }


def _nullable(values: NDArray[np.float64]) -> list[float | None]:
    """JSON has no NaN or infinity: those points read back as null."""
    out: list[float | None] = values.tolist()
    # Only non-finite points are visited, usually none.
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = None
    return out


def _summary(s: scalars.Summary) -> dict[str, Any]:
    return {
        "last": s.last,
        "last_iter": s.last_iter,
        "min": s.min,
        "min_iter": s.min_iter,
        "max": s.max,
        "max_iter": s.max_iter,
        "count": s.count,
        "last_time": s.last_time,
    }

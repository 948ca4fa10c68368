"""Scalar routes: ingest a batch, read series (downsampled) for one or many tasks, summaries.

Reads build their JSON directly (``ndarray.tolist()`` into a JSONResponse) rather than through
a response model: validating 100k-point arrays with pydantic would cost more than the read.
A read asked with ``Accept: application/vnd.tunelab.scalar-frame`` answers the same series as
one binary frame (``domain/scalar_wire.py``): the stored arrays' bytes, no number turned into
text, which is what the SDK and the charts ask for.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from numpy.typing import NDArray

from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, encode_read_frame
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
    return await run_db(request, ingest_frame, engine, task_id, raw, settings.max_batch_points)


def ingest_frame(engine: sa.Engine, task_id: str, raw: bytes, max_points: int) -> dict[str, Any]:
    batch = decode_frame(raw, max_points)
    with engine.begin() as conn:
        result = scalars.ingest_batch(conn, task_id, batch)  # NotFound for an unknown task
    return {"stored": result.stored, "duplicate": result.duplicate}


# Both read routes document the frame beside their JSON.
_FRAME_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the series; as a binary frame when the request accepts "
        f"{FRAME_CONTENT_TYPE} (see docs/api.md)",
        "content": {FRAME_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get("/tasks/{task_id}/scalars", response_class=JSONResponse, responses=_FRAME_ANSWER)
def get_task_scalars(
    task_id: str,
    request: Request,
    conn: Conn,
    max_points: MaxPoints = 2000,
    metric: Metrics = None,
    variant: Variants = None,
    after: After = 0,
) -> Response:
    require_task(conn, task_id)
    read = scalars.read_scalars(conn, [task_id], metric, variant, max_points, after=after)
    if _wants_frame(request):
        return _frame_answer(read, [task_id])
    return JSONResponse(_scalar_data(read, task_id))


@router.get("/scalars", response_class=JSONResponse, responses=_FRAME_ANSWER)
def get_scalars(
    request: Request,
    conn: Conn,
    who: Who,
    task: Annotated[list[str], Query(min_length=1, max_length=MAX_TASKS_PER_READ)],
    max_points: MaxPoints = 2000,
    metric: Metrics = None,
    variant: Variants = None,
    after: After = 0,
) -> Response:
    task_ids = list(dict.fromkeys(task))  # a repeated id is read once
    _require_tasks(conn, task_ids)
    for task_id in task_ids:
        access.require_task(conn, who, task_id, access.READ)
    read = scalars.read_scalars(conn, task_ids, metric, variant, max_points, after=after)
    if _wants_frame(request):
        return _frame_answer(read, task_ids)
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


def _wants_frame(request: Request) -> bool:
    # JSON stays the answer for anyone who does not name the frame (browsers send */*).
    return FRAME_CONTENT_TYPE in request.headers.get("accept", "")


def _frame_answer(read: scalars.ScalarRead, task_ids: list[str]) -> Response:
    header: dict[str, Any] = {"cursor": read.cursor, "cursors": read.cursors, "series": []}
    arrays: list[bytes] = []
    for task_id in task_ids:
        for metric, variants in read.series[task_id].items():
            for variant, data in variants.items():
                header["series"].append(
                    {
                        "task": task_id,
                        "metric": metric,
                        "variant": variant,
                        "count": len(data.x),
                        "total": data.total,
                        "downsampled": data.downsampled,
                    }
                )
                # No copy where the arrays are little-endian already (the store's are).
                arrays.extend(
                    (
                        data.x.astype("<i8", copy=False).tobytes(),
                        data.y.astype("<f8", copy=False).tobytes(),
                        data.t.astype("<f8", copy=False).tobytes(),
                    )
                )
    body = encode_read_frame(header, arrays)
    return Response(body, media_type=FRAME_CONTENT_TYPE, headers={"Vary": "Accept"})


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

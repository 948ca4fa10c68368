"""Plot routes: store a batch of plots (deduplicated by batch id), read them back.

A plot's ``data`` is checked by ``tunelab.domain.plots`` in the store, so the API, the SDK
and the store refuse the same things with the same messages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tunelab.domain.plots import KINDS
from tunelab.server.api.deps import Conn
from tunelab.server.api.scalar_models import BatchId, Name
from tunelab.store import plots
from tunelab.store.lookup import require_task

router = APIRouter(tags=["plots"])


class PlotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Name
    series: Name
    iteration: Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)] = 0
    kind: str = Field(description=f"one of {', '.join(KINDS)}")
    data: dict[str, Any]


class PlotBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: BatchId | None = None
    plots: list[PlotIn] = Field(min_length=1)


@router.post("/tasks/{task_id}/plots")
def post_plots(task_id: str, body: PlotBatchIn, conn: Conn) -> dict[str, Any]:
    require_task(conn, task_id)
    batch = [plot.model_dump() for plot in body.plots]
    result = plots.store_plots(conn, task_id, batch, batch_id=body.batch_id)
    return {"stored": result.stored, "duplicate": result.duplicate}


@router.get("/tasks/{task_id}/plots", response_class=JSONResponse)
def get_plots(
    task_id: str,
    conn: Conn,
    title: Annotated[str | None, Query(max_length=512)] = None,
    series: Annotated[str | None, Query(max_length=512)] = None,
    iteration: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
    last_only: Annotated[bool, Query(description="only each plot's last iteration")] = False,
) -> JSONResponse:
    require_task(conn, task_id)
    found = plots.read_plots(
        conn, task_id, title=title, series=series, iteration=iteration, last_only=last_only
    )
    return JSONResponse({"plots": [plot.to_json() for plot in found]})

"""``POST /api/live``: DVCLive's live metrics, sent as to DVC Studio.

Point a DVCLive run at the server with ``DVC_STUDIO_URL=<server URL>`` and
``DVC_STUDIO_TOKEN=<a Tunelab API key>``; ``dvc-studio-client`` posts its events here with
``Authorization: token <key>``. What each event records is ``tunelab.server.dvc_live``'s.
The path is Studio's own (not under ``/api/v1``): that is where the client posts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tunelab.server import dvc_live
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.task_models import INT64_MAX
from tunelab.server.authorize import authorize

LIVE_PATH = "/api/live"

router = APIRouter(tags=["dvclive"], dependencies=[Depends(authorize)])

Text = Annotated[str, Field(max_length=1024)]


class LiveError(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cls: Text = ""
    text: Annotated[str, Field(max_length=4096)] = ""


class MetricsFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: dict[str, Any] = {}
    error: LiveError | None = None


class LiveEventIn(BaseModel):
    """One event of ``dvc-studio-client`` (its ``schema.py``); fields it may add are ignored."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["start", "data", "done"]
    repo_url: Annotated[str, Field(min_length=1, max_length=2048)]
    baseline_sha: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{40}$")]
    name: Annotated[str, Field(min_length=1, max_length=255)] = "dvclive"
    client: Text = ""
    step: Annotated[StrictInt, Field(ge=0, le=INT64_MAX)] | None = None
    message: Text = ""
    params: dict[str, dict[str, Any]] = {}
    metrics: dict[str, MetricsFile] = {}
    plots: dict[str, dict[str, Any]] = {}
    errors: Annotated[list[LiveError], Field(max_length=100)] = []

    def as_event(self) -> dvc_live.LiveEvent:
        return dvc_live.LiveEvent(
            type=self.type,
            repo_url=self.repo_url,
            baseline_sha=self.baseline_sha.lower(),
            name=self.name,
            step=self.step,
            message=self.message,
            metrics={path: {"data": f.data} for path, f in self.metrics.items()},
            params=self.params,
            plots=self.plots,
            errors=[f"{e.cls}: {e.text}" if e.cls else e.text for e in self.errors],
        )


class LiveAnswer(BaseModel):
    task_id: str | None
    status: str | None


@router.post(LIVE_PATH, response_model=LiveAnswer)
def post_live_event(body: LiveEventIn, conn: Conn, who: Who) -> dict[str, Any]:
    """Record a DVCLive event: ``start`` makes a running task, ``data`` stores its metrics at
    ``step`` and its params, ``done`` ends it (completed, or failed with errors)."""
    return dvc_live.record(conn, who, body.as_event())

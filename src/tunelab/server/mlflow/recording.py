"""MLflow's routes that record a run's data: params, metrics (one at a time or in batches
of up to 1,000) and tags in a batch, and a metric's history read back."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query

from tunelab.domain.access import Principal
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.mlflow import mapping, pages, run_reads, run_writes
from tunelab.server.mlflow.messages import Message, json_double
from tunelab.store import scalars

router = APIRouter()
JsonBody = Annotated[dict[str, Any], Body()]

# MLflow's limits on one ``log-batch`` (``mlflow.utils.validation``).
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_ENTRIES = 1000


@router.post("/runs/log-parameter")
def log_parameter(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    run_id = _writable(message, conn, who)
    key = message.text("key", required=True)
    run_writes.log_params(conn, run_id, {key: message.text("value")})
    return {}


@router.post("/runs/log-metric")
def log_metric(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    message = Message(body)
    run_id = _writable(message, conn, who)
    run_writes.log_metrics(conn, run_id, [_point(message)])
    return {}


@router.post("/runs/log-batch")
def log_batch(body: JsonBody, conn: Conn, who: Who) -> dict[str, Any]:
    """Metrics, params and tags in one transaction; the metrics as one scalar batch."""
    message = Message(body)
    run_id = _writable(message, conn, who)
    metrics = message.messages("metrics")
    params = message.messages("params")
    tags = message.messages("tags")
    for what, given, limit in (
        ("metrics", metrics, MAX_BATCH_METRICS),
        ("params", params, MAX_BATCH_PARAMS),
        ("tags", tags, MAX_BATCH_TAGS),
    ):
        if len(given) > limit:
            raise InvalidInput(
                f"A batch logging request can contain at most {limit} {what}. "
                f"Got {len(given)} {what}."
            )
    if len(metrics) + len(params) + len(tags) > MAX_BATCH_ENTRIES:
        raise InvalidInput(
            f"A batch logging request can contain at most {MAX_BATCH_ENTRIES} metrics, params "
            "and tags in total."
        )
    param_values: dict[str, str] = {}
    for param in params:
        key, value = param.text("key", required=True), param.text("value")
        if param_values.get(key, value) != value:
            raise InvalidInput(f"Duplicate parameter keys have been submitted: {key!r}")
        param_values[key] = value
    run_writes.log_params(conn, run_id, param_values)
    run_writes.log_metrics(conn, run_id, [_point(m) for m in metrics])
    run_writes.set_tags(conn, run_id, {t.text("key", required=True): t.text("value") for t in tags})
    return {}


@router.get("/metrics/get-history")
def get_metric_history(
    run_id: Annotated[str, Query()],
    metric_key: Annotated[str, Query()],
    conn: Conn,
    who: Who,
    page_token: Annotated[str, Query()] = "",
    max_results: Annotated[str, Query()] = "",
) -> dict[str, Any]:
    """Every point of one metric of a run, by step (and in the order logged within a step),
    in pages of ``max_results`` when given."""
    message = Message(
        {
            "run_id": run_id,
            "metric_key": metric_key,
            "page_token": page_token,
            "max_results": max_results,
        }
    )
    run_id = message.run_id()
    run_reads.require_run(conn, who, run_id, access.READ)
    key = message.text("metric_key", required=True)
    title, series = mapping.metric_names(key)
    read = scalars.read_series(conn, [run_id], [title], [series], max_points=0)
    data = read[run_id].get(title, {}).get(series)
    offset = pages.page_offset(message.text("page_token"))
    limit = message.int64("max_results")
    if limit is not None and limit <= 0:
        raise InvalidInput(f"max_results must be positive, got {limit}")
    total = 0 if data is None else len(data.x)
    end = total if limit is None else min(total, offset + limit)
    points = []
    if data is not None:
        for step, value, stamp in zip(
            data.x[offset:end].tolist(),
            data.y[offset:end].tolist(),
            data.t[offset:end].tolist(),
            strict=True,
        ):
            points.append(
                {
                    "key": key,
                    "value": json_double(value),
                    "timestamp": mapping.millis(stamp),
                    "step": step,
                    "run_id": run_id,
                }
            )
    answer: dict[str, Any] = {"metrics": points}
    if end < total:
        answer["next_page_token"] = pages.page_token(end)
    return answer


def _writable(message: Message, conn: sa.Connection, who: Principal) -> str:
    run_id = message.run_id()
    run_reads.require_run(conn, who, run_id, access.WRITE)
    return run_id


def _point(message: Message) -> run_writes.MetricPoint:
    return run_writes.MetricPoint(
        key=message.text("key", required=True),
        value=float(message.double("value", required=True) or 0.0),
        timestamp_ms=int(message.int64("timestamp", required=True) or 0),
        step=int(message.int64("step") or 0),
    )

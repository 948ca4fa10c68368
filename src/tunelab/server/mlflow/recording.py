"""MLflow's routes that record a run's data: params, metrics (one at a time or in batches
of up to 1,000) and tags in a batch, and a metric's history read back.

Metrics and the history are what a training script calls in its loop, once a step: their
routes take one worker thread for the whole request (check, write, commit) rather than the
three hops of the ``Conn`` dependency, and answer prebuilt JSON, which FastAPI would
otherwise walk value by value. Their bodies are parsed by pydantic's parser (``json_body``)
and a batch's metrics read as columns (``metric_columns``): a 1,000-metric ``log-batch``
costs the server about 4 ms of CPU rather than 9."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import pydantic_core
import sqlalchemy as sa
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from tunelab.domain.access import Principal
from tunelab.errors import InvalidInput
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.db_gate import in_transaction, run_db
from tunelab.server.mlflow import mapping, pages, run_reads, run_writes
from tunelab.server.mlflow.json_body import FastJsonRoute
from tunelab.server.mlflow.messages import Message, json_double
from tunelab.server.mlflow.metric_columns import MetricColumns, read_metrics, read_point
from tunelab.store import scalars
from tunelab.store.engine import read_only

router = APIRouter(route_class=FastJsonRoute)
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
async def log_metric(body: JsonBody, request: Request, who: Who) -> Response:
    await in_transaction(request, _log_metric, body, who)
    return _answer({})


def _log_metric(conn: sa.Connection, body: dict[str, Any], who: Principal) -> None:
    message = Message(body)
    run_id = _writable(message, conn, who)
    run_writes.log_metrics(conn, run_id, MetricColumns.of_points([read_point(message)]))


@router.post("/runs/log-batch")
async def log_batch(body: JsonBody, request: Request, who: Who) -> Response:
    """Metrics, params and tags in one transaction; the metrics as one scalar batch."""
    await in_transaction(request, _log_batch, body, who)
    return _answer({})


def _log_batch(conn: sa.Connection, body: dict[str, Any], who: Principal) -> None:
    message = Message(body)
    run_id = _writable(message, conn, who)
    metrics = message.objects("metrics")
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
    run_writes.log_metrics(conn, run_id, read_metrics(metrics))
    run_writes.set_tags(conn, run_id, {t.text("key", required=True): t.text("value") for t in tags})


@router.get("/metrics/get-history")
async def get_metric_history(
    run_id: Annotated[str, Query()],
    metric_key: Annotated[str, Query()],
    request: Request,
    who: Who,
    page_token: Annotated[str, Query()] = "",
    max_results: Annotated[str, Query()] = "",
) -> Response:
    """Every point of one metric of a run, by step (and in the order logged within a step),
    in pages of ``max_results`` when given (MLflow's client asks for 25,000 at a time)."""
    message = Message(
        {
            "run_id": run_id,
            "metric_key": metric_key,
            "page_token": page_token,
            "max_results": max_results,
        }
    )
    engine: sa.Engine = request.app.state.engine

    def read() -> Response:  # the JSON written on the worker thread too, off the event loop
        with read_only(engine) as conn:
            return _answer(_history_page(conn, message, who))

    return await run_db(request, read)


def _history_page(conn: sa.Connection, message: Message, who: Principal) -> dict[str, Any]:
    run_id = message.run_id()
    run_reads.require_run(conn, who, run_id, access.READ)
    key = message.text("metric_key", required=True)
    offset = pages.page_offset(message.text("page_token"))
    limit = message.int64("max_results")
    if limit is not None and limit <= 0:
        raise InvalidInput(f"max_results must be positive, got {limit}")
    title, series = mapping.metric_names(key)
    read = scalars.read_series(conn, [run_id], [title], [series], max_points=0)
    data = read[run_id].get(title, {}).get(series)
    total = 0 if data is None else len(data.x)
    end = total if limit is None else min(total, offset + limit)
    points = []
    if data is not None and offset < end:
        # Milliseconds as ``mapping.millis`` rounds them, for the whole page at once. No
        # ``run_id`` in each point, as MLflow's server answers: its client parses every field
        # of every point, and that parse is most of the time a long history takes.
        stamps = (data.t[offset:end] * 1000).round().astype("int64").tolist()
        values = data.y[offset:end].tolist()
        for step, value, stamp in zip(data.x[offset:end].tolist(), values, stamps, strict=True):
            points.append(
                {"key": key, "value": json_double(value), "timestamp": stamp, "step": step}
            )
    answer: dict[str, Any] = {"metrics": points}
    if end < total:
        answer["next_page_token"] = pages.page_token(end)
    return answer


def _answer(content: Mapping[str, Any]) -> Response:
    """JSON of plain values (str, int, finite float, lists and dicts of them), written by
    pydantic's serializer in one call: a page of 25,000 points in a quarter of the time
    ``json.dumps`` takes, without FastAPI's walk over every value."""
    return Response(pydantic_core.to_json(content), media_type="application/json")


def _writable(message: Message, conn: sa.Connection, who: Principal) -> str:
    run_id = message.run_id()
    run_reads.require_run(conn, who, run_id, access.WRITE)
    return run_id

"""The Scalars tab: one chart per metric (drawn by ``static/js/charts.js`` from the API's
JSON), and beside the charts a server-rendered summary (last/min/max) and the single values.

The summary comes from ``task_metrics`` (kept on ingest), so it is exact however much the
charts are downsampled; ``/experiments/{id}/scalars/summary`` re-renders only that part, which
the page fetches again when a live poll brought new points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.domain.system_metrics import user_metrics_first
from tunelab.sdk.logger import SUMMARY_METRIC
from tunelab.server.api.deps import Conn
from tunelab.server.web.experiment_page import experiment_context
from tunelab.server.web.templating import is_htmx, render
from tunelab.store import scalars

router = APIRouter(include_in_schema=False)

X_AXES = ("iter", "rel", "wall")
MAX_SMOOTHING = 0.99


@dataclass(frozen=True)
class SummaryRow:
    metric: str
    variant: str
    summary: scalars.Summary


def summary_context(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """``summary``: rows of charted series, the system metrics after the user's;
    ``single_values``: what report_single_value sent (metric "Summary"), shown as a table
    because a one-point chart says nothing."""
    found = scalars.read_summaries(conn, [task_id])[task_id]
    names = user_metrics_first(
        (metric, variant)
        for metric, variants in found.items()
        if metric != SUMMARY_METRIC
        for variant in variants
    )
    rows = [SummaryRow(metric, variant, found[metric][variant]) for metric, variant in names]
    single = [
        SummaryRow(SUMMARY_METRIC, name, summary)
        for name, summary in found.get(SUMMARY_METRIC, {}).items()
    ]
    return {"summary": rows, "single_values": single}


def view_options(smooth: str | None, x: str | None) -> dict[str, Any]:
    """The chart options from the URL, forgiving: a bad value falls back to the default (the
    page's script writes these, a hand-edited URL should still show the charts)."""
    try:
        weight = min(max(float(smooth or 0), 0.0), MAX_SMOOTHING)
    except ValueError:
        weight = 0.0
    if weight != weight:  # NaN
        weight = 0.0
    return {"smooth": weight, "x_axis": x if x in X_AXES else "iter"}


@router.get("/experiments/{task_id}/scalars", response_class=HTMLResponse)
def scalars_tab(
    task_id: str, request: Request, conn: Conn, smooth: str | None = None, x: str | None = None
) -> HTMLResponse:
    context = experiment_context(conn, task_id, "scalars")
    context.update(summary_context(conn, task_id), **view_options(smooth, x))
    return render(request, "experiment/scalars.html", context)


@router.get("/experiments/{task_id}/scalars/summary", response_class=HTMLResponse)
def scalars_summary(task_id: str, request: Request, conn: Conn) -> HTMLResponse:
    """The summary tables alone for the page's refresh; the whole tab for a plain visit."""
    if not is_htmx(request):
        return scalars_tab(task_id, request, conn)
    context = experiment_context(conn, task_id, "scalars")
    context.update(summary_context(conn, task_id))
    return render(request, "charts/_summary.html", context)

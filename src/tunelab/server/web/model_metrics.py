"""The Metrics section of a model's page: what the model reported of itself
(``store.model_reports``) as small server-drawn charts and tables, no script needed.

Each scalar series and each line of a line plot becomes an SVG polyline in a fixed box;
single values and tables are HTML tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.store.model_reports import get_reports

WIDTH, HEIGHT, PAD = 240.0, 80.0, 4.0
MAX_TABLE_ROWS = 50  # a long table is cut on the page (the API has all of it)


def metrics_section(conn: sa.Connection, model_id: str) -> dict[str, Any]:
    """What the template shows: ``scalars``, ``single_values``, ``tables``, ``lines``."""
    reports = get_reports(conn, model_id)
    scalars = []
    for item in reports["scalars"]:
        points = item["points"]
        values = [p[1] for p in points]
        scalars.append(
            {
                "title": item["title"],
                "series": item["series"],
                "last_iteration": points[-1][0],
                "last": values[-1],
                "min": min(values),
                "max": max(values),
                "polyline": polyline([(float(x), float(y)) for x, y in points]),
            }
        )
    tables, lines = [], []
    for plot in reports["plots"]:
        data = plot["data"] or {}
        if plot["kind"] == "table":
            rows = data.get("rows") or []
            tables.append(
                {
                    "title": plot["title"],
                    "series": plot["series"],
                    "columns": data.get("columns") or [],
                    "rows": rows[:MAX_TABLE_ROWS],
                    "cut": max(len(rows) - MAX_TABLE_ROWS, 0),
                }
            )
        else:
            lines.append({"title": plot["title"], "traces": _traces(data)})
    return {
        "scalars": scalars,
        "single_values": reports["single_values"],
        "tables": tables,
        "lines": lines,
        "empty": not (scalars or reports["single_values"] or tables or lines),
        "box": f"0 0 {WIDTH:g} {HEIGHT:g}",
    }


Bounds = tuple[float, float, float, float]


def polyline(points: Sequence[tuple[float, float]], bounds: Bounds | None = None) -> str:
    """``points`` scaled into the chart's box (``bounds``: x0, x1, y0, y1; default theirs),
    as an SVG ``points`` attribute."""
    finite = _finite(points)
    if not finite:
        return ""
    x0, x1, y0, y1 = bounds or _bounds(finite)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    return " ".join(
        f"{PAD + (x - x0) / span_x * inner_w:.1f},{HEIGHT - PAD - (y - y0) / span_y * inner_h:.1f}"
        for x, y in finite
    )


def _finite(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]


def _bounds(points: Sequence[tuple[float, float]]) -> Bounds:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), max(xs), min(ys), max(ys)


def _traces(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A line plot's traces, drawn in one box (one scale for all of them)."""
    named = []
    for trace in data.get("data") or []:
        if not isinstance(trace, dict):
            continue
        xs, ys = trace.get("x") or [], trace.get("y") or []
        pairs = [
            (float(x), float(y))
            for x, y in zip(xs, ys, strict=False)
            if isinstance(x, int | float) and isinstance(y, int | float)
        ]
        named.append((str(trace.get("name") or ""), pairs))
    every = _finite([p for _, pairs in named for p in pairs])
    bounds = _bounds(every) if every else None
    return [{"name": name, "polyline": polyline(pairs, bounds)} for name, pairs in named]

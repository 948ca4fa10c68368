"""What a model reports of itself: scalars per iteration, single values, tables and line
plots (ClearML's ``OutputModel.report_scalar`` and kin), shown on the model's page.

Reporting the same kind, title, series and iteration again replaces the earlier report. A
published model is read-only: it takes no more reports.

Example::

    add_reports(conn, model_id, [
        {"kind": "scalar", "title": "loss", "series": "val", "iteration": 3, "value": 0.25},
        {"kind": "single", "title": "Summary", "series": "accuracy", "value": 0.93},
        {"kind": "table", "title": "confusion", "series": "val", "data": {"columns": [...],
         "rows": [[...]]}},
    ])
    get_reports(conn, model_id)   # {"scalars": [...], "single_values": [...], "plots": [...]}
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.artifacts import require_id
from tunelab.store.lookup import now
from tunelab.store.schema import model_reports, models

KINDS = ("scalar", "single", "table", "line")
MAX_TEXT = 512
MAX_REPORTS = 10_000  # in one request
MAX_DATA_BYTES = 1024 * 1024
_INT64 = 2**63


def add_reports(conn: sa.Connection, model_id: str, reports: Iterable[Mapping[str, Any]]) -> int:
    """Store ``reports`` on the model (each replaces one of the same key); answers how many."""
    rows = [_row(model_id, report) for report in reports]
    if len(rows) > MAX_REPORTS:
        raise InvalidInput(f"at most {MAX_REPORTS} reports at once")
    _require_writable(conn, model_id)
    if not rows:
        return 0
    # The last of equal keys wins, as reporting it twice in a row would.
    unique = {_key(row): row for row in rows}
    for key in unique:
        conn.execute(model_reports.delete().where(*_matches(model_id, key)))
    conn.execute(model_reports.insert(), list(unique.values()))
    return len(unique)


def get_reports(conn: sa.Connection, model_id: str) -> dict[str, Any]:
    """The model's reports: ``scalars`` (title, series, points ``[[iteration, value]]``),
    ``single_values`` (name, value) and ``plots`` (tables and line plots, their data)."""
    require_id(model_id, "model")
    if conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first() is None:
        raise NotFound(f"no model with id {model_id!r}")
    rows = conn.execute(
        sa.select(model_reports)
        .where(model_reports.c.model_id == model_id)
        .order_by(
            model_reports.c.kind,
            model_reports.c.title,
            model_reports.c.series,
            model_reports.c.iteration,
        )
    ).all()
    scalars: dict[tuple[str, str], list[list[float]]] = {}
    single: list[dict[str, Any]] = []
    plots: list[dict[str, Any]] = []
    for row in rows:
        if row.kind == "scalar":
            scalars.setdefault((row.title, row.series), []).append([row.iteration, row.value])
        elif row.kind == "single":
            single.append({"name": row.series, "value": row.value})
        else:
            plots.append(
                {
                    "kind": row.kind,
                    "title": row.title,
                    "series": row.series,
                    "iteration": row.iteration,
                    "data": row.data,
                }
            )
    return {
        "scalars": [
            {"title": title, "series": series, "points": points}
            for (title, series), points in scalars.items()
        ],
        "single_values": single,
        "plots": plots,
    }


def delete_reports(conn: sa.Connection, model_ids: list[str]) -> None:
    """Forget the models' reports (the foreign key does this too; explicit, it holds on any
    SQLite connection)."""
    if model_ids:
        conn.execute(model_reports.delete().where(model_reports.c.model_id.in_(model_ids)))


def _require_writable(conn: sa.Connection, model_id: str) -> None:
    require_id(model_id, "model")
    # FOR UPDATE: a publish cannot slip in between the check and the write.
    row = conn.execute(
        sa.select(models.c.name, models.c.published)
        .where(models.c.id == model_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no model with id {model_id!r}")
    if row.published:
        raise Conflict(
            f"model {row.name!r} is published: it takes no more reports", {"published": True}
        )


def _row(model_id: str, report: Mapping[str, Any]) -> dict[str, Any]:
    kind = report.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"a report's kind is one of {', '.join(KINDS)}; got {kind!r}")
    title = _text(report.get("title", "" if kind == "single" else None), "title")
    series = _text(report.get("series"), "series")
    iteration = report.get("iteration", 0)
    if iteration is None:
        iteration = 0
    if isinstance(iteration, bool) or not isinstance(iteration, int) or abs(iteration) >= _INT64:
        raise InvalidInput(f"a report's iteration must be a whole number, got {iteration!r}")
    value = report.get("value")
    data = report.get("data")
    if kind in ("scalar", "single"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{kind} report {title!r}/{series!r} needs a number value")
        value = float(value)
        if not math.isfinite(value):
            raise InvalidInput(f"{kind} report {title!r}/{series!r}: the value must be finite")
        data = None
    else:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{kind} report {title!r}/{series!r} needs an object of data")
        try:
            size = len(json.dumps(data, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{kind} report {title!r}: data must be JSON ({exc})") from None
        if size > MAX_DATA_BYTES:
            raise InvalidInput(f"{kind} report {title!r}: data over {MAX_DATA_BYTES} bytes")
        value = None
    return {
        "model_id": model_id,
        "kind": kind,
        "title": title,
        "series": series,
        "iteration": iteration,
        "value": value,
        "data": dict(data) if data is not None else None,
        "created": now(),
    }


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or "\x00" in value:
        raise InvalidInput(f"a report's {field} must be text of at most {MAX_TEXT} characters")
    return value


def _key(row: Mapping[str, Any]) -> tuple[str, str, str, int]:
    return (row["kind"], row["title"], row["series"], row["iteration"])


def _matches(model_id: str, key: tuple[str, str, str, int]) -> list[sa.ColumnElement[bool]]:
    kind, title, series, iteration = key
    return [
        model_reports.c.model_id == model_id,
        model_reports.c.kind == kind,
        model_reports.c.title == title,
        model_reports.c.series == series,
        model_reports.c.iteration == iteration,
    ]

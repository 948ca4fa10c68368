"""A task's plots: histograms, scatter plots, confusion matrices, tables and images.

One row per (title, series, iteration); reporting the same one again replaces it. The plot's
data is stored as JSON text, checked by ``tunelab.domain.plots`` before anything is written.

Example::

    plot = {"title": "errors", "series": "val", "iteration": 3, "kind": "histogram",
            "data": {"values": [[1, 4, 2]]}}
    store_plots(conn, task_id, [plot], batch_id="b1")      # IngestResult(stored=1, ...)
    read_plots(conn, task_id, last_only=True)              # each plot at its last iteration
    plot_iterations(conn, task_id)[("errors", "val")]      # [3]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.plots import PlotTooLarge, check_plot, data_json
from tunelab.errors import InvalidInput, NotFound, PayloadTooLarge
from tunelab.store.batches import claim_batch
from tunelab.store.dialect import dialect_insert
from tunelab.store.lookup import now, require_task
from tunelab.store.scalars import IngestResult
from tunelab.store.schema import ingested_batches, task_plots, tasks
from tunelab.store.series_query import narrowed
from tunelab.store.task_activity import database_now

# Batch ids share ``ingested_batches`` with scalars ("s:") and console ("c:").
PLOT_BATCH_PREFIX = "p:"
MAX_PLOTS_PER_BATCH = 1000


@dataclass(frozen=True)
class StoredPlot:
    title: str
    series: str
    iteration: int
    kind: str
    data: dict[str, Any]
    created: float

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "series": self.series,
            "iteration": self.iteration,
            "kind": self.kind,
            "data": self.data,
            "created": self.created,
        }


def store_plots(
    conn: sa.Connection,
    task_id: str,
    plots: Sequence[Mapping[str, Any]],
    batch_id: str | None = None,
) -> IngestResult:
    """Store ``plots`` (each replacing the one with its title, series and iteration); a
    ``batch_id`` seen before stores nothing (``duplicate``).

    Raises NotFound for an unknown task, InvalidInput naming the plot (nothing stored) for
    bad data, PayloadTooLarge for a plot or a batch over the limits.
    """
    require_task(conn, task_id)
    if len(plots) > MAX_PLOTS_PER_BATCH:
        raise PayloadTooLarge(
            f"the batch holds {len(plots)} plots, more than {MAX_PLOTS_PER_BATCH}; "
            "send them in smaller batches"
        )
    rows = _rows(task_id, plots)
    if batch_id is not None and not claim_batch(conn, task_id, PLOT_BATCH_PREFIX + batch_id):
        return IngestResult(stored=0, duplicate=True)
    if rows:
        stmt = dialect_insert(conn, task_plots)
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                task_plots.c.task_id,
                task_plots.c.title,
                task_plots.c.series,
                task_plots.c.iteration,
            ],
            set_={
                "kind": stmt.excluded.kind,
                "data": stmt.excluded.data,
                "created": stmt.excluded.created,
            },
        )
        conn.execute(stmt, rows)
    conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id)
        .values(last_update=now(), last_active=database_now(conn))
    )
    return IngestResult(stored=len(rows), duplicate=False)


def _rows(task_id: str, plots: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Checked rows, one per key (the last of a key reported twice in the batch wins), in
    key order so that concurrent batches lock rows in the same order."""
    stamp = now()
    rows: dict[tuple[str, str, int], dict[str, Any]] = {}
    for index, plot in enumerate(plots):
        if not isinstance(plot, Mapping):
            raise InvalidInput(f"plot {index} must be an object")
        try:
            checked = check_plot(plot)
        except PlotTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except ValueError as exc:
            raise InvalidInput(str(exc), {"plot": index}) from None
        key = (checked["title"], checked["series"], checked["iteration"])
        rows[key] = {
            "task_id": task_id,
            "title": checked["title"],
            "series": checked["series"],
            "iteration": checked["iteration"],
            "kind": checked["kind"],
            "data": data_json(checked["data"]),
            "created": stamp,
        }
    return [rows[key] for key in sorted(rows)]


def read_plots(
    conn: sa.Connection,
    task_id: str,
    *,
    title: str | None = None,
    series: str | None = None,
    iteration: int | None = None,
    last_only: bool = False,
    kind: str | None = None,
) -> list[StoredPlot]:
    """The task's plots ordered by title, series, iteration; ``last_only`` keeps each
    (title, series) at its greatest iteration; ``kind`` keeps one kind. Unknown task ids
    simply have none."""
    p = task_plots.c
    query = sa.select(p.title, p.series, p.iteration, p.kind, p.data, p.created).where(
        p.task_id == task_id
    )
    if kind is not None:
        query = query.where(p.kind == kind)
    query = narrowed(
        query, task_plots, task_id,
        title=title, series=series, iteration=iteration, last_only=last_only,
    )  # fmt: skip
    return [
        StoredPlot(r.title, r.series, r.iteration, r.kind, json.loads(r.data), r.created)
        for r in conn.execute(query)
    ]


def plot_iterations(conn: sa.Connection, task_id: str) -> dict[tuple[str, str], list[int]]:
    """``{(title, series): [iterations, ascending]}``, read from the key alone (no data)."""
    p = task_plots.c
    query = (
        sa.select(p.title, p.series, p.iteration)
        .where(p.task_id == task_id)
        .order_by(p.title, p.series, p.iteration)
    )
    found: dict[tuple[str, str], list[int]] = {}
    for title, series, iteration in conn.execute(query):
        found.setdefault((title, series), []).append(iteration)
    return found


def read_plot(
    conn: sa.Connection, task_id: str, title: str, series: str, iteration: int | None = None
) -> StoredPlot:
    """One plot at ``iteration`` (None: its last); NotFound when there is none."""
    found = read_plots(
        conn, task_id, title=title, series=series, iteration=iteration, last_only=iteration is None
    )
    if not found:
        at = "" if iteration is None else f" at iteration {iteration}"
        raise NotFound(f"no plot {title!r}/{series!r}{at} in task {task_id!r}")
    return found[0]


def delete_plots(conn: sa.Connection, task_id: str) -> None:
    """Forget a task's plots and plot batch ids (a reset task starts over)."""
    conn.execute(task_plots.delete().where(task_plots.c.task_id == task_id))
    conn.execute(
        ingested_batches.delete().where(
            ingested_batches.c.task_id == task_id,
            ingested_batches.c.batch_id.startswith(PLOT_BATCH_PREFIX, autoescape=True),
        )
    )

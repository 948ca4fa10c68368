"""Scalar series: stored in chunks, summarised on ingest, read back downsampled.

Each ingested batch becomes one ``scalar_chunks`` row per (metric, variant) holding packed
little-endian arrays, so a million points are a few hundred rows rather than a million (the
per-point tables of other trackers are what make them slow). A chunk whose iterations step
evenly (0, 1, 2, ...) stores no iteration array: its bounds and count say them. Beside the
chunks, ``task_metrics`` keeps last/min/max per series current, for tables and leaderboards.

Example::

    batch = ScalarBatch(batch_id="5f0c", series=[SeriesPoints("loss", "train", its, vals, ts)])
    ingest_batch(conn, task_id, batch)            # IngestResult(stored=3, duplicate=False)
    read_series(conn, [task_id], max_points=2000)["<id>"]["loss"]["train"].y
    read = read_scalars(conn, [task_id], after=cursor)  # only chunks stored since ``cursor``
    read.series, read.cursors[task_id]                  # the new points; the next cursor
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

from tunelab.domain import times
from tunelab.errors import InvalidInput
from tunelab.store.batches import claim_batch
from tunelab.store.dialect import on_conflict_insert
from tunelab.store.downsample import downsample
from tunelab.store.lookup import now, require_task
from tunelab.store.schema import ingested_batches, scalar_chunks, task_metrics, tasks
from tunelab.store.task_activity import dialect_now

# Scalar and console batches share ``ingested_batches``; the prefix keeps a scalar batch
# and a console batch that happen to carry the same id from shadowing each other.
SCALAR_BATCH_PREFIX = "s:"

_INT = np.dtype("<i8")
_FLOAT = np.dtype("<f8")
_INT_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class SeriesPoints:
    """Points of one (metric, variant): three parallel arrays, as the SDK reported them."""

    metric: str
    variant: str
    iterations: NDArray[np.int64]
    values: NDArray[np.float64]
    timestamps: NDArray[np.float64]


@dataclass(frozen=True)
class ScalarBatch:
    series: Sequence[SeriesPoints]
    # None: no deduplication (a client that never retries).
    batch_id: str | None = None


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicate: bool


@dataclass(frozen=True)
class SeriesData:
    """A series as read: sorted by iteration, possibly downsampled from ``total`` points."""

    x: NDArray[np.int64]
    y: NDArray[np.float64]
    t: NDArray[np.float64]
    total: int
    downsampled: bool


@dataclass(frozen=True)
class Summary:
    """``last`` is the value at the greatest iteration (None when not finite);
    ``min``/``max`` skip NaN and ±inf (None when no finite value was seen).
    ``last_time`` is the timestamp of the ``last`` point."""

    count: int
    last: float | None
    last_iter: int | None
    min: float | None
    min_iter: int | None
    max: float | None
    max_iter: int | None
    last_time: float | None


# --- ingest ---------------------------------------------------------------------------------


def ingest_batch(conn: sa.Connection, task_id: str, batch: ScalarBatch) -> IngestResult:
    """Store a batch once: a batch id seen before answers ``duplicate=True`` and stores nothing.

    Raises NotFound for an unknown task and InvalidInput (before writing anything) for a
    series that is empty, has arrays of different lengths, or timestamps out of range
    (``tunelab.domain.times``).
    """
    require_task(conn, task_id)
    series = merge_series(batch.series)
    if not series:
        raise InvalidInput("a scalar batch needs at least one series")
    if batch.batch_id is not None and not claim_batch(
        conn, task_id, SCALAR_BATCH_PREFIX + batch.batch_id
    ):
        return IngestResult(stored=0, duplicate=True)
    # The task row first: its lock (PostgreSQL) makes a task's concurrent batches take their
    # chunk ids in commit order, so an ``after`` cursor never steps over a later-committing id.
    top = max(int(s.iterations[-1]) for s in series)
    conn.execute(_touch_tasks(conn.dialect.name), {"task": task_id, "top": top, "stamp": now()})
    conn.execute(scalar_chunks.insert(), [_chunk_row(task_id, s) for s in series])
    conn.execute(_summary_upsert(conn.dialect.name), [_summary_row(task_id, s) for s in series])
    return IngestResult(stored=sum(len(s.iterations) for s in series), duplicate=False)


def ingest_new_tasks(conn: sa.Connection, merged: Sequence[tuple[str, list[SeriesPoints]]]) -> int:
    """Store the series of tasks made in this transaction (``POST /tasks/batch``), each task's
    already through ``merge_series``; answers the points stored.

    No batch ids to claim and no concurrent batches to order: all tasks' chunks, summaries
    and last iterations go in one statement each, rather than four per task.
    """
    given = [(task_id, series) for task_id, series in merged if series]
    if not given:
        return 0
    stamp = now()
    conn.execute(
        _touch_tasks(conn.dialect.name),
        [
            {"task": tid, "top": max(int(s.iterations[-1]) for s in series), "stamp": stamp}
            for tid, series in given
        ],
    )
    conn.execute(scalar_chunks.insert(), [_chunk_row(tid, s) for tid, ss in given for s in ss])
    conn.execute(
        _summary_upsert(conn.dialect.name),
        [_summary_row(tid, s) for tid, ss in given for s in ss],
    )
    return sum(len(s.iterations) for _, ss in given for s in ss)


def merge_series(series: Iterable[SeriesPoints]) -> list[SeriesPoints]:
    """One checked, iteration-sorted series per (metric, variant), ordered by that key.

    A key listed twice is concatenated in arrival order. Ordering by key makes concurrent
    batches lock ``task_metrics`` rows in the same order (no deadlock on PostgreSQL).
    """
    groups: dict[tuple[str, str], list[SeriesPoints]] = {}
    for s in series:
        _check(s)
        groups.setdefault((s.metric, s.variant), []).append(s)
    return [_sorted(_concat(groups[key])) for key in sorted(groups)]


def _check(s: SeriesPoints) -> None:
    name = f"series {s.metric!r}/{s.variant!r}"
    if not s.metric or not s.variant:
        raise InvalidInput(f"{name}: metric and variant must be non-empty")
    n = len(s.iterations)
    if n == 0:
        raise InvalidInput(f"{name}: has no points")
    if len(s.values) != n or len(s.timestamps) != n:
        raise InvalidInput(
            f"{name}: iterations, values and timestamps must have the same length "
            f"(got {n}, {len(s.values)}, {len(s.timestamps)})"
        )
    stamps = s.timestamps
    # NaN fails both comparisons, so this refuses it and the infinities too.
    if not ((stamps >= times.EARLIEST) & (stamps <= times.LATEST)).all():
        raise InvalidInput(f"{name}: timestamps must be finite {times.DESCRIPTION}")


def _concat(parts: list[SeriesPoints]) -> SeriesPoints:
    if len(parts) == 1:
        return parts[0]
    return SeriesPoints(
        parts[0].metric,
        parts[0].variant,
        np.concatenate([p.iterations for p in parts]),
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.timestamps for p in parts]),
    )


def _sorted(s: SeriesPoints) -> SeriesPoints:
    """Stored chunks are sorted by iteration (stable: equal iterations keep their order)."""
    its = s.iterations
    if len(its) < 2 or not (its[1:] < its[:-1]).any():
        return s
    order = np.argsort(its, kind="stable")
    return SeriesPoints(s.metric, s.variant, its[order], s.values[order], s.timestamps[order])


def _chunk_row(task_id: str, s: SeriesPoints) -> dict[str, Any]:
    its = s.iterations.astype(_INT, copy=False)
    return {
        "task_id": task_id,
        "metric": s.metric,
        "variant": s.variant,
        "first_iter": int(its[0]),
        "last_iter": int(its[-1]),
        "count": len(its),
        "iterations": b"" if _step(its) is not None else its.tobytes(),
        "values": s.values.astype(_FLOAT, copy=False).tobytes(),
        "timestamps": s.timestamps.astype(_FLOAT, copy=False).tobytes(),
    }


def _step(its: NDArray[np.int64]) -> int | None:
    """The step of sorted iterations that step evenly (0 for one iteration repeated), else
    None. Such a chunk stores an empty iteration array: ``first_iter``, ``last_iter`` and
    ``count`` say it (``_iterations``), and a third less goes to the database, PostgreSQL's
    TOAST and its write-ahead log included."""
    if len(its) < 2:
        return None
    span, gaps = int(its[-1]) - int(its[0]), len(its) - 1
    step = span // gaps
    if step * gaps != span or abs(step) > _INT_MAX:
        return None
    # int64 arithmetic may wrap in step * k, but first + step * k lands on each point: every
    # point is within the int64 range. Reads compute the same (``_iterations``).
    return step if np.array_equal(its, _run(int(its[0]), step, len(its))) else None


def _run(first: int, step: int, count: int) -> NDArray[np.int64]:
    return first + step * np.arange(count, dtype=_INT)


def _iterations(packed: bytes, first: int, last: int, count: int) -> NDArray[np.int64]:
    """A chunk's iterations: its packed array, or the run its bounds say (empty array)."""
    if packed or count < 2:
        return np.frombuffer(packed, dtype=_INT)
    return _run(first, (last - first) // (count - 1), count)


def _summary_row(task_id: str, s: SeriesPoints) -> dict[str, Any]:
    """This batch's summary of one sorted series; the upsert merges it with the stored one."""
    its, vals, ts = s.iterations, s.values, s.timestamps
    # The greatest iteration is the sorted tail; among its points the latest timestamp wins,
    # and on equal timestamps the one reported last.
    tail = int(np.searchsorted(its, its[-1], side="left"))
    last = len(ts) - 1 - int(np.argmax(ts[tail:][::-1]))
    row: dict[str, Any] = {
        "task_id": task_id,
        "metric": s.metric,
        "variant": s.variant,
        "count": len(its),
        "last": _finite_or_none(vals[last]),
        "last_iter": int(its[last]),
        "last_time": float(ts[last]),
        "min": None,
        "min_iter": None,
        "max": None,
        "max_iter": None,
    }
    finite = np.isfinite(vals)
    if finite.any():
        low = int(np.argmin(np.where(finite, vals, np.inf)))
        high = int(np.argmax(np.where(finite, vals, -np.inf)))
        row.update(
            min=float(vals[low]),
            min_iter=int(its[low]),
            max=float(vals[high]),
            max_iter=int(its[high]),
        )
    return row


def _finite_or_none(value: np.float64) -> float | None:
    # NaN is stored as NULL either way on SQLite; doing it on both dialects keeps them alike
    # (and a diverged run sorts with the runs that have no value, not above every number).
    return float(value) if np.isfinite(value) else None


@functools.cache  # built once per dialect: constructing it costs more than running it
def _summary_upsert(dialect: str) -> sa.Insert:
    """INSERT the batch's summary, or merge it into the stored one in the same statement.

    SET expressions see the row as it was before the update, so each CASE compares the
    batch against the stored values; PostgreSQL locks the row, so racing batches both count.
    """
    insert = on_conflict_insert(dialect, task_metrics)
    new, old = insert.excluded, task_metrics.c
    newer = sa.or_(
        old.last_iter.is_(None),
        new.last_iter > old.last_iter,
        sa.and_(new.last_iter == old.last_iter, new.last_time >= old.last_time),
    )
    lower = sa.and_(new["min"].is_not(None), sa.or_(old["min"].is_(None), new["min"] < old["min"]))
    higher = sa.and_(new["max"].is_not(None), sa.or_(old["max"].is_(None), new["max"] > old["max"]))
    return insert.on_conflict_do_update(
        index_elements=[old.task_id, old.metric, old.variant],
        set_={
            "count": old["count"] + new["count"],
            "last": sa.case((newer, new["last"]), else_=old["last"]),
            "last_iter": sa.case((newer, new.last_iter), else_=old.last_iter),
            "last_time": sa.case((newer, new.last_time), else_=old.last_time),
            "min": sa.case((lower, new["min"]), else_=old["min"]),
            "min_iter": sa.case((lower, new.min_iter), else_=old.min_iter),
            "max": sa.case((higher, new["max"]), else_=old["max"]),
            "max_iter": sa.case((higher, new.max_iter), else_=old.max_iter),
        },
    )


@functools.cache  # built once per dialect, as the upsert above
def _touch_tasks(dialect: str) -> sa.Update:
    """A task got points: ``last_update`` (``stamp``), ``last_active`` and the greatest
    iteration (``top``) of task ``task``."""
    # CASE rather than max()/greatest(): the same SQL on both dialects.
    top = sa.bindparam("top", type_=sa.BigInteger)
    return (
        tasks.update()
        .where(tasks.c.id == sa.bindparam("task"))
        .values(
            last_update=sa.bindparam("stamp", type_=tasks.c.last_update.type),
            last_active=dialect_now(dialect),
            last_iteration=sa.case(
                (tasks.c.last_iteration < top, top), else_=tasks.c.last_iteration
            ),
        )
    )


# --- reads ----------------------------------------------------------------------------------

Series = dict[str, dict[str, SeriesData]]


@dataclass(frozen=True)
class ScalarRead:
    """Series as read, and per task the cursor for the next incremental read.

    ``cursors[task_id]`` is the id of the last chunk read for that task (or the ``after`` it
    was given when nothing new was there): pass it back as ``after`` to get only newer points.
    """

    series: dict[str, Series]
    cursors: dict[str, int]

    @property
    def cursor(self) -> int:
        """One cursor for a read of several tasks: the greatest of theirs."""
        return max(self.cursors.values(), default=0)


def read_series(
    conn: sa.Connection,
    task_ids: Sequence[str],
    metrics: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    max_points: int = 2000,
    *,
    after: int = 0,
) -> dict[str, Series]:
    """``{task_id: {metric: {variant: SeriesData}}}``, every task id present (maybe empty).

    ``metrics``/``variants`` narrow the read (None: all); ``max_points=0`` is full resolution.
    ``after`` keeps only chunks stored after that cursor (``read_scalars`` returns the next).
    Unknown task ids simply have no series; callers check existence first.
    """
    return read_scalars(conn, task_ids, metrics, variants, max_points, after=after).series


def read_scalars(
    conn: sa.Connection,
    task_ids: Sequence[str],
    metrics: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
    max_points: int = 2000,
    *,
    after: int = 0,
) -> ScalarRead:
    """``read_series`` with the cursors: ``after=0`` reads everything, ``after=<a cursor>``
    only the points of chunks stored since (each series of them downsampled on its own).

    Chunk ids grow in commit order per task (ingest locks the task row before it inserts), so
    polling with the returned cursor sees every point once. SQLite may hand out the ids of
    deleted chunks again, so a reader re-reads from 0 after a reset.
    """
    c = scalar_chunks.c
    # No ORDER BY: SQLite would sort the rows blobs and all in a temporary B-tree; the rows
    # are few (one per batch), so they are put in order here instead.
    query = sa.select(
        c.task_id,
        c.metric,
        c.variant,
        c.id,
        c.iterations,
        c["values"],
        c.timestamps,
        c.first_iter,
        c.last_iter,
        c["count"],
    ).where(c.task_id.in_(list(task_ids)))
    if after:
        query = query.where(c.id > after)
    if metrics:
        query = query.where(c.metric.in_(list(metrics)))
    if variants:
        query = query.where(c.variant.in_(list(variants)))
    found: dict[str, Series] = {task_id: {} for task_id in task_ids}
    cursors = dict.fromkeys(task_ids, after)
    rows = sorted(conn.execute(query).all(), key=lambda r: r[:4])
    for (task_id, metric, variant), group in itertools.groupby(rows, key=lambda r: r[:3]):
        chunks = list(group)
        cursors[task_id] = max(cursors[task_id], chunks[-1][3])
        series = _assemble([chunk[4:] for chunk in chunks], max_points)
        found[task_id].setdefault(metric, {})[variant] = series
    return ScalarRead(series=found, cursors=cursors)


def _assemble(chunks: list[Sequence[Any]], max_points: int) -> SeriesData:
    """Concatenate chunks (already in insertion order) and sort them by iteration, stably:
    points a later batch reports for an iteration already seen stay, after the earlier ones.

    A chunk is ``(iterations, values, timestamps, first_iter, last_iter, count)``."""
    x = np.concatenate([_iterations(c[0], c[3], c[4], c[5]) for c in chunks])
    y = np.frombuffer(b"".join(chunk[1] for chunk in chunks), dtype=_FLOAT)
    t = np.frombuffer(b"".join(chunk[2] for chunk in chunks), dtype=_FLOAT)
    if (x[1:] < x[:-1]).any():
        order = np.argsort(x, kind="stable")
        x, y, t = x[order], y[order], t[order]
    dx, dy, dt, downsampled = downsample(x, y, t, max_points)
    return SeriesData(x=dx, y=dy, t=dt, total=len(x), downsampled=downsampled)


def read_summaries(
    conn: sa.Connection, task_ids: Sequence[str]
) -> dict[str, dict[str, dict[str, Summary]]]:
    """``{task_id: {metric: {variant: Summary}}}`` from the summary table alone."""
    m = task_metrics.c
    query = (
        sa.select(task_metrics)
        .where(m.task_id.in_(list(task_ids)))
        .order_by(m.task_id, m.metric, m.variant)
    )
    found: dict[str, dict[str, dict[str, Summary]]] = {task_id: {} for task_id in task_ids}
    for row in conn.execute(query).mappings():
        found[row["task_id"]].setdefault(row["metric"], {})[row["variant"]] = Summary(
            count=row["count"],
            last=_nan_to_none(row["last"]),
            last_iter=row["last_iter"],
            min=row["min"],
            min_iter=row["min_iter"],
            max=row["max"],
            max_iter=row["max_iter"],
            last_time=row["last_time"],
        )
    return found


def _nan_to_none(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def delete_scalars(conn: sa.Connection, task_id: str) -> None:
    """Forget a task's scalars, summary and scalar batch ids (a reset task starts over)."""
    conn.execute(scalar_chunks.delete().where(scalar_chunks.c.task_id == task_id))
    conn.execute(task_metrics.delete().where(task_metrics.c.task_id == task_id))
    conn.execute(
        ingested_batches.delete().where(
            ingested_batches.c.task_id == task_id,
            ingested_batches.c.batch_id.startswith(SCALAR_BATCH_PREFIX, autoescape=True),
        )
    )

"""Scalar storage on SQLite and PostgreSQL: dedupe, summary, ordering, reads."""

from __future__ import annotations

import math
import threading
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store import schema
from tunelab.store.scalars import (
    ScalarBatch,
    SeriesPoints,
    delete_scalars,
    ingest_batch,
    read_series,
    read_summaries,
)


def make_task(engine: sa.Engine) -> str:
    """A bare task row: the scalar store needs only the id to exist."""
    task_id, project_id = uuid.uuid4().hex, uuid.uuid4().hex
    with engine.begin() as conn:
        conn.execute(
            schema.projects.insert(),
            {"id": project_id, "name": f"p-{project_id}", "created": 1.0, "last_update": 1.0},
        )
        conn.execute(
            schema.tasks.insert(),
            {
                "id": task_id,
                "name": "t",
                "project_id": project_id,
                "type": "training",
                "status": "running",
                "created": 1.0,
                "last_update": 1.0,
                "execution": {},
                "runtime": {},
            },
        )
    return task_id


def points(metric: str, variant: str, its: list[int], vals: list[float], ts=None) -> SeriesPoints:
    stamps = [1000.0 + i for i in range(len(its))] if ts is None else ts
    return SeriesPoints(
        metric,
        variant,
        np.array(its, dtype=np.int64),
        np.array(vals, dtype=np.float64),
        np.array(stamps, dtype=np.float64),
    )


def ingest(engine: sa.Engine, task_id: str, *series: SeriesPoints, batch_id: str | None = None):
    with engine.begin() as conn:
        return ingest_batch(conn, task_id, ScalarBatch(series=series, batch_id=batch_id))


def read(engine: sa.Engine, task_id: str, **kwargs):
    with engine.begin() as conn:
        return read_series(conn, [task_id], **kwargs)[task_id]


def summary(engine: sa.Engine, task_id: str):
    with engine.begin() as conn:
        return read_summaries(conn, [task_id])[task_id]


def chunk_count(engine: sa.Engine, task_id: str) -> int:
    with engine.begin() as conn:
        query = sa.select(sa.func.count()).where(schema.scalar_chunks.c.task_id == task_id)
        return conn.execute(query).scalar_one()


def test_batch_round_trips_and_is_one_chunk_per_series(engine: sa.Engine) -> None:
    task = make_task(engine)
    result = ingest(
        engine,
        task,
        points("loss", "train", [0, 1, 2], [0.9, 0.5, 0.25]),
        points("loss", "val", [0, 2], [1.0, 0.7]),
        batch_id="b1",
    )
    assert (result.stored, result.duplicate) == (5, False)
    assert chunk_count(engine, task) == 2
    data = read(engine, task, max_points=0)
    train = data["loss"]["train"]
    assert train.x.tolist() == [0, 1, 2]
    assert train.y.tolist() == [0.9, 0.5, 0.25]
    assert train.t.tolist() == [1000.0, 1001.0, 1002.0]
    assert (train.total, train.downsampled) == (3, False)
    assert data["loss"]["val"].y.tolist() == [1.0, 0.7]


def test_retried_batch_is_stored_once(engine: sa.Engine) -> None:
    task = make_task(engine)
    batch = points("loss", "train", [0, 1], [2.0, 1.0])
    assert not ingest(engine, task, batch, batch_id="same").duplicate
    again = ingest(engine, task, batch, batch_id="same")
    assert (again.stored, again.duplicate) == (0, True)
    assert read(engine, task)["loss"]["train"].x.tolist() == [0, 1]
    assert summary(engine, task)["loss"]["train"].count == 2


def test_batch_ids_are_per_task(engine: sa.Engine) -> None:
    first, second = make_task(engine), make_task(engine)
    ingest(engine, first, points("m", "v", [0], [1.0]), batch_id="b")
    assert not ingest(engine, second, points("m", "v", [0], [1.0]), batch_id="b").duplicate


def test_racing_retries_store_the_batch_once(engine: sa.Engine) -> None:
    task = make_task(engine)
    barrier = threading.Barrier(4)
    results = []

    def send() -> None:
        barrier.wait()
        results.append(ingest(engine, task, points("m", "v", [0, 1], [1.0, 2.0]), batch_id="r"))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert chunk_count(engine, task) == 1
    assert summary(engine, task)["m"]["v"].count == 2


def test_concurrent_batches_all_count_in_the_summary(engine: sa.Engine) -> None:
    task = make_task(engine)
    barrier = threading.Barrier(4)

    def send(worker: int) -> None:
        its = list(range(worker * 10, worker * 10 + 10))
        barrier.wait()
        # Two series in opposite orders: the store must not deadlock on PostgreSQL.
        pair = [points("a", "v", its, [float(i) for i in its]), points("b", "v", its, its)]
        ingest(engine, task, *(pair if worker % 2 else pair[::-1]), batch_id=f"w{worker}")

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for metric in ("a", "b"):
        s = summary(engine, task)[metric]["v"]
        assert (s.count, s.last, s.last_iter, s.min, s.max) == (40, 39.0, 39, 0.0, 39.0)
    assert read(engine, task, max_points=0)["a"]["v"].x.tolist() == list(range(40))


def test_summary_tracks_last_min_max_and_skips_non_finite(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(
        engine,
        task,
        points("loss", "train", [0, 1, 2, 3], [5.0, math.nan, -math.inf, 3.0]),
        batch_id="a",
    )
    ingest(engine, task, points("loss", "train", [4, 5, 6], [1.0, math.inf, 2.0]), batch_id="b")
    s = summary(engine, task)["loss"]["train"]
    assert (s.last, s.last_iter, s.last_time) == (2.0, 6, 1002.0)
    assert (s.min, s.min_iter) == (1.0, 4)
    assert (s.max, s.max_iter) == (5.0, 0)
    assert s.count == 7


def test_summary_last_is_greatest_iteration_not_latest_batch(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("acc", "val", [10, 20], [0.5, 0.8]))
    # A late batch about earlier iterations does not move `last`.
    ingest(engine, task, points("acc", "val", [5], [0.1], ts=[5000.0]))
    s = summary(engine, task)["acc"]["val"]
    assert (s.last, s.last_iter) == (0.8, 20)
    assert (s.min, s.min_iter) == (0.1, 5)


def test_summary_ties_on_iteration_go_to_the_latest_timestamp(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [3, 3, 3], [1.0, 2.0, 3.0], ts=[10.0, 30.0, 20.0]))
    assert summary(engine, task)["m"]["v"].last == 2.0
    ingest(engine, task, points("m", "v", [3], [9.0], ts=[40.0]))
    ingest(engine, task, points("m", "v", [3], [7.0], ts=[35.0]))
    s = summary(engine, task)["m"]["v"]
    assert (s.last, s.last_time) == (9.0, 40.0)


def test_series_of_only_nan_has_no_min_max_and_null_last(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0, 1], [math.nan, math.nan]))
    s = summary(engine, task)["m"]["v"]
    assert (s.last, s.last_iter, s.min, s.max, s.count) == (None, 1, None, None, 2)
    ingest(engine, task, points("m", "v", [2], [4.0]))
    s = summary(engine, task)["m"]["v"]
    assert (s.last, s.min, s.min_iter, s.max_iter) == (4.0, 4.0, 2, 2)


def test_non_finite_values_are_stored_and_read_back(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0, 1, 2], [math.nan, math.inf, -math.inf]))
    y = read(engine, task)["m"]["v"].y
    assert math.isnan(y[0]) and y[1] == math.inf and y[2] == -math.inf


def test_task_last_iteration_and_update_only_move_forward(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0, 50], [1.0, 2.0]))
    ingest(engine, task, points("m", "v", [7], [1.0]))
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(schema.tasks.c.last_iteration, schema.tasks.c.last_update).where(
                schema.tasks.c.id == task
            )
        ).one()
    assert row.last_iteration == 50
    assert row.last_update > 1.0


def test_reads_sort_by_iteration_keeping_repeated_iterations_in_arrival_order(
    engine: sa.Engine,
) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0]))
    # A restarted run reports iterations 2..3 again, and an out-of-order batch arrives.
    ingest(engine, task, points("m", "v", [3, 2], [30.0, 20.0]))
    data = read(engine, task, max_points=0)["m"]["v"]
    assert data.x.tolist() == [0, 1, 2, 2, 3, 3]
    assert data.y.tolist() == [0.0, 1.0, 2.0, 20.0, 3.0, 30.0]
    assert data.total == 6


def test_same_series_twice_in_one_batch_is_merged(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0], [1.0]), points("m", "v", [1], [2.0]))
    assert chunk_count(engine, task) == 1
    assert read(engine, task)["m"]["v"].y.tolist() == [1.0, 2.0]


def test_downsampled_read_keeps_a_single_spike(engine: sa.Engine) -> None:
    task = make_task(engine)
    n = 100_000
    values = np.linspace(1.0, 0.1, n)
    values[61_234] = 1e6
    for start in range(0, n, 25_000):
        its = np.arange(start, start + 25_000, dtype=np.int64)
        ingest(engine, task, SeriesPoints("loss", "t", its, values[its], its * 1.0 + 1e9))
    data = read(engine, task, max_points=2000)["loss"]["t"]
    assert data.downsampled and data.total == n
    assert len(data.x) <= 2000
    assert 1e6 in data.y.tolist()
    assert data.x[data.y.argmax()] == 61_234
    assert data.x[0] == 0 and data.x[-1] == n - 1
    full = read(engine, task, max_points=0)["loss"]["t"]
    assert len(full.x) == n and not full.downsampled
    assert np.array_equal(full.y, values)


def test_read_filters_by_metric_and_variant_and_spans_tasks(engine: sa.Engine) -> None:
    first, second, empty = make_task(engine), make_task(engine), make_task(engine)
    for task in (first, second):
        ingest(
            engine,
            task,
            points("loss", "train", [0], [1.0]),
            points("loss", "val", [0], [2.0]),
            points("acc", "val", [0], [3.0]),
        )
    with engine.begin() as conn:
        everything = read_series(conn, [first, second, empty])
        only_val = read_series(conn, [first, second], metrics=["loss"], variants=["val"])
    assert set(everything) == {first, second, empty}
    assert everything[empty] == {}
    assert {m: set(v) for m, v in everything[second].items()} == {
        "loss": {"train", "val"},
        "acc": {"val"},
    }
    assert {m: set(v) for m, v in only_val[first].items()} == {"loss": {"val"}}
    assert only_val[second]["loss"]["val"].y.tolist() == [2.0]


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        (points("m", "v", [], []), "no points"),
        (points("", "v", [0], [1.0]), "non-empty"),
        (points("m", "v", [0, 1], [1.0]), "same length"),
        (points("m", "v", [0], [1.0], ts=[math.nan]), "timestamps must be finite"),
    ],
)
def test_bad_series_store_nothing(engine: sa.Engine, bad: SeriesPoints, complaint: str) -> None:
    task = make_task(engine)
    good = points("good", "v", [0], [1.0])
    with pytest.raises(InvalidInput, match=complaint):
        ingest(engine, task, good, bad, batch_id="x")
    assert chunk_count(engine, task) == 0
    assert summary(engine, task) == {}
    # The batch id was not used up by the refused batch.
    assert not ingest(engine, task, good, batch_id="x").duplicate


def test_unknown_task_is_not_found(engine: sa.Engine) -> None:
    with pytest.raises(NotFound, match="no task"):
        ingest(engine, "0" * 32, points("m", "v", [0], [1.0]))


def test_delete_scalars_forgets_points_summary_and_batch_ids(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0], [1.0]), batch_id="b")
    with engine.begin() as conn:
        delete_scalars(conn, task)
    assert read(engine, task) == {} and summary(engine, task) == {}
    assert not ingest(engine, task, points("m", "v", [0], [1.0]), batch_id="b").duplicate

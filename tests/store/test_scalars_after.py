"""Incremental scalar reads on SQLite and PostgreSQL: ``after`` a cursor, only newer points."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import sqlalchemy as sa

from tests.store.test_scalars import make_task, points
from tunelab.store.scalars import (
    ScalarBatch,
    SeriesPoints,
    delete_scalars,
    ingest_batch,
    read_scalars,
)


def ingest(engine: sa.Engine, task_id: str, *series: SeriesPoints) -> None:
    with engine.begin() as conn:
        ingest_batch(conn, task_id, ScalarBatch(series=list(series), batch_id=uuid.uuid4().hex))


def test_a_read_after_the_cursor_returns_only_points_stored_since(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    ingest(engine, task_id, points("loss", "train", [0, 1, 2], [3.0, 2.0, 1.0]))
    with engine.connect() as conn:
        first = read_scalars(conn, [task_id])
    assert first.series[task_id]["loss"]["train"].x.tolist() == [0, 1, 2]
    cursor = first.cursors[task_id]
    assert cursor > 0

    ingest(
        engine,
        task_id,
        points("loss", "train", [3, 4], [0.5, 0.25]),
        points("acc", "val", [4], [0.9]),
    )
    with engine.connect() as conn:
        second = read_scalars(conn, [task_id], after=cursor)
    new = second.series[task_id]
    assert new["loss"]["train"].x.tolist() == [3, 4]
    assert new["loss"]["train"].y.tolist() == [0.5, 0.25]
    assert new["loss"]["train"].total == 2
    assert new["acc"]["val"].x.tolist() == [4]
    assert second.cursors[task_id] > cursor

    with engine.connect() as conn:
        third = read_scalars(conn, [task_id], after=second.cursors[task_id])
    assert third.series[task_id] == {}
    assert third.cursors[task_id] == second.cursors[task_id]  # nothing new: the same cursor


def test_an_empty_task_keeps_the_cursor_it_was_given(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    with engine.connect() as conn:
        assert read_scalars(conn, [task_id]).cursors == {task_id: 0}
        assert read_scalars(conn, [task_id], after=41).cursors == {task_id: 41}


def test_cursors_are_per_task_and_the_shared_one_is_the_greatest(engine: sa.Engine) -> None:
    first, second = make_task(engine), make_task(engine)
    ingest(engine, first, points("loss", "train", [0], [1.0]))
    with engine.connect() as conn:
        start = read_scalars(conn, [first, second]).cursor
    ingest(engine, second, points("loss", "train", [0, 1], [2.0, 1.5]))
    with engine.connect() as conn:
        read = read_scalars(conn, [first, second], after=start)
    assert read.series[first] == {}
    assert read.series[second]["loss"]["train"].y.tolist() == [2.0, 1.5]
    assert read.cursors[first] == start
    assert read.cursor == read.cursors[second] > start


def test_an_increment_is_downsampled_on_its_own_and_filters_still_apply(
    engine: sa.Engine,
) -> None:
    task_id = make_task(engine)
    ingest(engine, task_id, points("loss", "train", [0], [1.0]))
    with engine.connect() as conn:
        cursor = read_scalars(conn, [task_id]).cursors[task_id]
    its = list(range(1, 10_001))
    values = np.sin(np.arange(10_000) / 50.0).tolist()
    ingest(
        engine,
        task_id,
        points("loss", "train", its, values, [2000.0 + i for i in its]),
        points("loss", "val", [5], [0.1]),
    )
    with engine.connect() as conn:
        read = read_scalars(conn, [task_id], ["loss"], ["train"], max_points=400, after=cursor)
    train = read.series[task_id]["loss"]["train"]
    assert train.downsampled and train.total == 10_000 and len(train.x) <= 400
    assert train.x[0] == 1 and train.x[-1] == 10_000
    assert list(read.series[task_id]["loss"]) == ["train"]


def test_out_of_order_iterations_in_a_later_batch_come_back_sorted(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    ingest(engine, task_id, points("loss", "train", [10, 11], [1.0, 1.0]))
    with engine.connect() as conn:
        cursor = read_scalars(conn, [task_id]).cursors[task_id]
    ingest(engine, task_id, points("loss", "train", [12, 3, 7], [0.5, 2.0, 1.5]))
    with engine.connect() as conn:
        new = read_scalars(conn, [task_id], after=cursor).series[task_id]["loss"]["train"]
    assert new.x.tolist() == [3, 7, 12]
    assert new.y.tolist() == [2.0, 1.5, 0.5]


def test_a_reader_polling_while_batches_race_sees_every_point_once(engine: sa.Engine) -> None:
    """Concurrent batches of one task: ids are taken under the task's row lock, so a cursor
    never passes an id whose chunk has not committed yet (the bug a sequence would allow)."""
    task_id = make_task(engine)
    writers, per_writer = 4, 25
    stop = threading.Event()
    seen: list[int] = []

    def write(w: int) -> None:
        for b in range(per_writer):
            it = w * per_writer + b
            ingest(engine, task_id, points("loss", "train", [it], [float(it)]))

    def poll() -> None:
        cursor = 0
        while True:
            done = stop.is_set()  # read before polling: the last poll follows every commit
            with engine.connect() as conn:
                read = read_scalars(conn, [task_id], after=cursor, max_points=0)
            series = read.series[task_id]
            if series:
                seen.extend(series["loss"]["train"].x.tolist())
            cursor = read.cursors[task_id]
            if done:
                return

    reader = threading.Thread(target=poll)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    reader.join()
    assert sorted(seen) == list(range(writers * per_writer))


def test_after_a_reset_a_read_from_zero_has_the_new_points(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    ingest(engine, task_id, points("loss", "train", [0, 1], [1.0, 2.0]))
    with engine.begin() as conn:
        delete_scalars(conn, task_id)
    ingest(engine, task_id, points("loss", "train", [0], [9.0]))
    with engine.connect() as conn:
        read = read_scalars(conn, [task_id])
    assert read.series[task_id]["loss"]["train"].y.tolist() == [9.0]

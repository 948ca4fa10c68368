"""A chunk whose iterations step evenly (a training loop's 0, 1, 2, ... or every 10th step)
stores no iteration array: its first and last iteration and its count say them all. Other
chunks keep the packed array. Both read back the same; migrating down expands the runs."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from alembic import command

from tests.store.test_scalars import make_task
from tunelab.store import schema
from tunelab.store.migrations import alembic_config, upgrade
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch, read_series

INT64 = np.iinfo(np.int64)

CASES = {
    "loop": np.arange(0, 20_000),
    "every 10th from 5": np.arange(5, 5 + 10 * 3_000, 10),
    "one iteration reported thrice": np.array([7, 7, 7]),
    "two points": np.array([3, 9]),
    "the int64 range's ends": np.array([INT64.min, INT64.max]),
    "near the top": np.arange(INT64.max - 4 * 1_000, INT64.max, 4),
    "a gap": np.array([0, 1, 2, 4]),
    "one point": np.array([42]),
    "uneven across the int64 range": np.array([INT64.min, 0, INT64.max - 1]),
    "even across the int64 range": np.array([INT64.min + 1, 0, INT64.max]),
}
# Evenly stepped, so stored without an iteration array.
RUNS = {
    "loop",
    "every 10th from 5",
    "one iteration reported thrice",
    "two points",
    "near the top",
    "even across the int64 range",
}


def series(name: str, iterations: np.ndarray) -> SeriesPoints:
    its = iterations.astype(np.int64)
    values = np.linspace(0.0, 1.0, len(its))
    return SeriesPoints("m", name, its, values, 1.7e9 + np.arange(len(its), dtype=np.float64))


def stored_sizes(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    """Per variant: bytes of the stored iteration array, and the chunk's count."""
    c = schema.scalar_chunks.c
    query = sa.select(c.variant, sa.func.length(c.iterations), c["count"])
    with engine.connect() as conn:
        return {variant: (size, count) for variant, size, count in conn.execute(query)}


def read_all(engine: sa.Engine, task_id: str) -> dict[str, tuple[list[int], list[float]]]:
    with engine.connect() as conn:
        found = read_series(conn, [task_id], max_points=0)[task_id]["m"]
    return {name: (s.x.tolist(), s.y.tolist()) for name, s in found.items()}


def ingest_cases(engine: sa.Engine, task_id: str) -> None:
    with engine.begin() as conn:
        batch = ScalarBatch([series(name, its) for name, its in CASES.items()])
        ingest_batch(conn, task_id, batch)


def expected() -> dict[str, tuple[list[int], list[float]]]:
    return {
        name: (its.astype(np.int64).tolist(), np.linspace(0.0, 1.0, len(its)).tolist())
        for name, its in CASES.items()
    }


def test_evenly_stepped_iterations_store_no_array(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    ingest_cases(engine, task_id)

    sizes = stored_sizes(engine)
    assert {name for name, (size, _) in sizes.items() if size == 0} == RUNS
    for name in CASES.keys() - RUNS:
        size, count = sizes[name]
        assert size == 8 * count == 8 * len(CASES[name])
    assert read_all(engine, task_id) == expected()


def test_batches_of_a_run_read_back_in_order(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    for start in (200, 0, 100):  # batches out of order, each a run of 100
        its = np.arange(start, start + 100)
        with engine.begin() as conn:
            ingest_batch(conn, task_id, ScalarBatch([series("s", its)]))
    with engine.connect() as conn:
        data = read_series(conn, [task_id], max_points=0)[task_id]["m"]["s"]
    assert data.x.tolist() == list(range(300))


def test_migrating_down_expands_the_runs_and_back_up_reads_the_same(engine: sa.Engine) -> None:
    task_id = make_task(engine)
    ingest_cases(engine, task_id)
    assert stored_sizes(engine)["loop"] == (0, 20_000)
    command.downgrade(alembic_config(engine), "0021")
    try:
        # What the code before runs reads: every chunk holds its packed iterations.
        assert all(size == 8 * count for size, count in stored_sizes(engine).values())
        assert read_all(engine, task_id) == expected()
    finally:
        upgrade(engine)  # the next tests share this database
    assert read_all(engine, task_id) == expected()

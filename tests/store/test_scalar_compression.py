"""Stored scalar arrays on PostgreSQL are compressed with lz4 (pglz takes about ten times as
long per ingested batch); the migration that says so walks back, and SQLite is left as it is."""

from __future__ import annotations

import uuid
from types import ModuleType

import numpy as np
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tunelab.store import schema
from tunelab.store.migrations import MIGRATIONS_DIR, alembic_config, upgrade
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch, read_series

ARRAYS = ("iterations", "values", "timestamps")
# Large enough for PostgreSQL to compress the value rather than keep it inline (~2 KB).
POINTS = 5_000


def make_task(engine: sa.Engine) -> str:
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


def iterations(first: int) -> np.ndarray:
    """Not evenly stepped (the last skips one), so the chunk stores its iteration array."""
    its = np.arange(first, first + POINTS, dtype=np.int64)
    its[-1] += 1
    return its


def ingest(engine: sa.Engine, task_id: str, first: int, *, session_default: str = "") -> None:
    its = iterations(first)
    series = SeriesPoints("loss", "train", its, its * 0.5, 1.7e9 + its.astype(np.float64))
    with engine.begin() as conn:
        if session_default:
            conn.exec_driver_sql(f"SET LOCAL default_toast_compression = '{session_default}'")
        ingest_batch(conn, task_id, ScalarBatch(series=[series]))


def column_methods(engine: sa.Engine) -> dict[str, str]:
    """Each array column's compression method ('' = the server's default, pglz)."""
    query = sa.text(
        "SELECT attname, attcompression FROM pg_attribute "
        "WHERE attrelid = 'scalar_chunks'::regclass AND attname = ANY(:names)"
    )
    with engine.connect() as conn:
        return {name: method for name, method in conn.execute(query, {"names": list(ARRAYS)})}


def stored_methods(engine: sa.Engine, task_id: str) -> list[tuple[str, ...]]:
    """How each chunk's arrays were stored, oldest chunk first."""
    columns = ", ".join(f'pg_column_compression("{name}")' for name in ARRAYS)
    query = sa.text(f"SELECT {columns} FROM scalar_chunks WHERE task_id = :t ORDER BY id")
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query, {"t": task_id})]


def read_iterations(engine: sa.Engine, task_id: str) -> list[int]:
    with engine.connect() as conn:
        series = read_series(conn, [task_id], max_points=0)[task_id]["loss"]["train"]
    return [int(i) for i in series.x]


def test_chunk_arrays_switch_to_lz4_and_back(engine: sa.Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    task = make_task(engine)
    command.downgrade(alembic_config(engine), "0014")
    try:
        if postgres:
            assert column_methods(engine) == dict.fromkeys(ARRAYS, "")
        ingest(engine, task, 0)

        upgrade(engine)
        if postgres:
            assert column_methods(engine) == dict.fromkeys(ARRAYS, "l")
        # The column's method wins over a session's default: no server setting is needed.
        ingest(engine, task, POINTS, session_default="pglz" if postgres else "")
        both = sorted([*iterations(0).tolist(), *iterations(POINTS).tolist()])
        if postgres:
            # Values stored before keep their method; both read back the same way.
            assert stored_methods(engine, task) == [("pglz",) * 3, ("lz4",) * 3]
        assert read_iterations(engine, task) == both

        command.downgrade(alembic_config(engine), "0014")
        if postgres:
            assert column_methods(engine) == dict.fromkeys(ARRAYS, "")
        assert read_iterations(engine, task) == both
    finally:
        upgrade(engine)  # the next tests share this database


def lz4_migration() -> ModuleType:
    revision = ScriptDirectory(str(MIGRATIONS_DIR)).get_revision("0015")
    assert revision is not None
    return revision.module


def test_lz4_is_used_only_where_the_server_has_it() -> None:
    reason = lz4_migration().why_not_lz4
    assert reason(150000, ["pglz", "lz4"]) is None
    assert reason(140001, ["pglz", "lz4"]) is None
    assert "built without lz4" in reason(160000, ["pglz"])
    assert "PostgreSQL 13" in reason(130012, None)

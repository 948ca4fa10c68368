"""Where a scalar batch's time goes in the store, on SQLite and PostgreSQL. Prints JSON.

    .venv/bin/python bench/bench_chunk_ingest.py [--batches 10] [--database-url URL]

Stores batches of the size the SDK sends under load (10 series x 20k points = 200k points)
with ``ingest_batch``, in-process, one transaction each, and times every statement, the
commit and the rest (Python: packing rows, SQLAlchemy). On PostgreSQL (a throwaway server
with its default, durable settings unless ``--database-url`` names one) it does so with the
chunk arrays compressed by lz4 (as migrated), by pglz (as before) and stored uncompressed,
then times the chunk rows alone written by ``INSERT`` (as the store does) against ``COPY``;
and a full read of one stored series (decompression) per method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_scalars import make_task
from tests.services import postgres_database, postgres_server

from tunelab.store import migrations, schema
from tunelab.store.engine import create_engine, sqlite_url
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch, read_series

SERIES, POINTS = 10, 20_000
ARRAYS = ("iterations", "values", "timestamps")
COLUMNS = ("task_id", "metric", "variant", "first_iter", "last_iter", "count", *ARRAYS)


def batch(number: int) -> list[SeriesPoints]:
    rng = np.random.default_rng(number)
    its = np.arange(number * POINTS, (number + 1) * POINTS, dtype=np.int64)
    stamps = 1.7e9 + its * 1e-4
    return [
        SeriesPoints(f"metric{m}", "series", its, rng.random(POINTS), stamps) for m in range(SERIES)
    ]


def statement_name(sql: str) -> str:
    words = sql.split()
    target = {"INSERT": 2, "UPDATE": 1, "SELECT": -1}.get(words[0].upper(), 0)
    if target == -1:
        return "SELECT " + (words[words.index("FROM") + 1] if "FROM" in words else "?")
    return f"{words[0]} {words[target]}"


class StatementClock:
    """Seconds per kind of statement, summed over the batches timed."""

    def __init__(self, engine: sa.Engine) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self._start = 0.0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._start = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        self.spent[statement_name(sql)] += time.perf_counter() - self._start


def time_ingest(engine: sa.Engine, batches: int) -> dict[str, Any]:
    task_id = make_task(engine)
    with engine.begin() as conn:  # warm-up: compiled statements, pooled connection
        ingest_batch(conn, task_id, ScalarBatch(series=batch(0), batch_id=uuid.uuid4().hex))
    clock = StatementClock(engine)
    work = [batch(n) for n in range(1, batches + 1)]
    totals, commits = [], []
    for series in work:
        started = time.perf_counter()
        with engine.connect() as conn:
            transaction = conn.begin()
            ingest_batch(conn, task_id, ScalarBatch(series=series, batch_id=uuid.uuid4().hex))
            before_commit = time.perf_counter()
            transaction.commit()
            commits.append(time.perf_counter() - before_commit)
        totals.append(time.perf_counter() - started)
    ms = 1000 / batches
    per_batch = {name: round(s * ms, 2) for name, s in sorted(clock.spent.items())}
    statements = sum(clock.spent.values())
    return {
        "batch_ms_median": round(statistics.median(totals) * 1000, 2),
        "batch_ms_min": round(min(totals) * 1000, 2),
        "statements_ms": per_batch,
        "commit_ms": round(sum(commits) * ms, 2),
        "rest_ms": round((sum(totals) - statements - sum(commits)) * ms, 2),
        "points_per_s": round(SERIES * POINTS * batches / sum(totals)),
        "full_read_of_one_series": read_ms(engine, task_id, batches + 1),
    }


def read_ms(engine: sa.Engine, task_id: str, chunks: int) -> dict[str, float]:
    """A full read of one series (a chunk of it per batch stored), median of 5."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        with engine.connect() as conn:
            data = read_series(conn, [task_id], ["metric0"], ["series"], 0)
        times.append(time.perf_counter() - started)
        assert data[task_id]["metric0"]["series"].total == chunks * POINTS
    return {"points": chunks * POINTS, "ms": round(statistics.median(times) * 1000, 2)}


def set_method(engine: sa.Engine, method: str) -> None:
    with engine.begin() as conn:
        for column in ARRAYS:
            storage = "EXTERNAL" if method == "none" else "EXTENDED"
            conn.exec_driver_sql(
                f'ALTER TABLE scalar_chunks ALTER COLUMN "{column}" SET STORAGE {storage}'
            )
            if method != "none":
                conn.exec_driver_sql(
                    f'ALTER TABLE scalar_chunks ALTER COLUMN "{column}" SET COMPRESSION {method}'
                )


def chunk_rows(task_id: str, series: list[SeriesPoints]) -> list[tuple[Any, ...]]:
    return [
        (task_id, s.metric, s.variant, int(s.iterations[0]), int(s.iterations[-1]),
         len(s.iterations), s.iterations.tobytes(), s.values.tobytes(), s.timestamps.tobytes())
        for s in series
    ]  # fmt: skip


def insert_vs_copy(engine: sa.Engine, batches: int) -> dict[str, float]:
    """The chunk rows of a batch alone, one transaction each: the store's executemany INSERT
    against psycopg's binary COPY."""
    task_id = make_task(engine)
    work = [chunk_rows(task_id, batch(n)) for n in range(batches)]
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    times: dict[str, list[float]] = {"insert_ms": [], "copy_ms": []}
    for rows in work:
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                schema.scalar_chunks.insert(), [dict(zip(COLUMNS, r, strict=True)) for r in rows]
            )
        times["insert_ms"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY scalar_chunks ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "int8", "int8", "int4", *["bytea"] * 3])
                for row in rows:
                    copy.write_row(row)
        times["copy_ms"].append(time.perf_counter() - started)
    return {name: round(statistics.median(ts) * 1000, 2) for name, ts in times.items()}


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        with postgres_database(url, "bench") as database:
            yield database
    else:
        with postgres_server(durable=True) as server, postgres_database(server, "bench") as db:
            yield db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a database in")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "store ingest of 200k-point batches, per batch"}
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp:
        engine = create_engine(sqlite_url(Path(tmp)))
        migrations.upgrade(engine)
        report["sqlite"] = time_ingest(engine, args.batches)
        engine.dispose()
    with postgres(args.database_url) as url:
        engine = create_engine(url)
        migrations.upgrade(engine)
        with engine.connect() as conn:
            report["postgresql_settings"] = {
                name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("server_version", "fsync", "synchronous_commit")
            }
        for method in ("lz4", "pglz", "none"):
            set_method(engine, method)
            report[f"postgresql {method}"] = time_ingest(engine, args.batches)
        set_method(engine, "lz4")
        report["postgresql lz4, chunk rows alone"] = insert_vs_copy(engine, args.batches)
        engine.dispose()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

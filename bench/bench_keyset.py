"""Deep pages of a metric sort: page 1,000 by OFFSET and by cursor, against page 1.

Fills a fresh database with 100k tasks in one project (bench_task_listing's data: a
"loss"/"val" metric summary each), then times through the store function, page size 50:
page 1; page 1,000 asked by number (OFFSET 49,950); and page 1,000 asked with the cursor
(``after``) that page 999 returned, as the table's Next link and the API's ``next`` do.
Prints JSON: median milliseconds, and the ratios.

    .venv/bin/python bench/bench_keyset.py              # SQLite in a temp dir
    .venv/bin/python bench/bench_keyset.py --postgres   # a throwaway PostgreSQL server

The target is page 1,000 by cursor in 30 ms or less on both databases.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_task_listing import PROJECT, database, median_ms, populate

from tunelab.store import migrations
from tunelab.store.engine import create_engine
from tunelab.store.task_listing import TaskQuery, list_tasks

SORTS = ("metrics.loss/val.last", "-metrics.loss/val.last")
DEEP_PAGE = 1_000


def time_sort(engine: sa.Engine, order_by: str, repeats: int) -> dict[str, float]:
    first = TaskQuery(project=PROJECT, order_by=order_by, page_size=50)
    by_number = dataclasses.replace(first, page=DEEP_PAGE)
    with engine.connect() as conn:
        before = list_tasks(conn, dataclasses.replace(first, page=DEEP_PAGE - 1))
        expected = [t["id"] for t in list_tasks(conn, by_number)["items"]]
    by_cursor = dataclasses.replace(first, after=before["next"])

    def run(query: TaskQuery) -> list[str]:
        with engine.connect() as conn:
            return [t["id"] for t in list_tasks(conn, query)["items"]]

    assert run(by_cursor) == expected, "the cursor's page differs from the numbered one"
    page_1 = median_ms(lambda: run(first), repeats)
    offset = median_ms(lambda: run(by_number), repeats)
    cursor = median_ms(lambda: run(by_cursor), repeats)
    return {
        "page_1_ms": page_1,
        f"page_{DEEP_PAGE}_offset_ms": offset,
        f"page_{DEEP_PAGE}_cursor_ms": cursor,
        "offset_over_cursor": round(offset / cursor, 1),
        "cursor_over_page_1": round(cursor / page_1, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="run on PostgreSQL")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="tunelab-bench-") as tmp,
        database(args.postgres, Path(tmp)) as url,
    ):
        engine = create_engine(url)
        migrations.upgrade(engine)
        began = time.perf_counter()
        populate(engine, args.tasks)
        # What autovacuum (PostgreSQL) or the server's optimize (SQLite) would have done.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE" if args.postgres else "ANALYZE"))
        report: dict[str, object] = {
            "dialect": engine.dialect.name,
            "tasks": args.tasks,
            "fill_seconds": round(time.perf_counter() - began, 1),
            "page_size": 50,
        }
        for order_by in SORTS:
            report[order_by] = time_sort(engine, order_by, args.repeats)
        engine.dispose()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

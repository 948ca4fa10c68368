"""The statements a small write costs, on SQLite and PostgreSQL: creating a task answers what
was written without reading it back, and many tasks at once cost the same statements as a few."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from tunelab.store.tasks import create_task, get_task, insert_tasks, prepare_task, update_task

PARAMS = {
    "Args": {
        "lr": {"value": "0.1", "type": "float"},
        "epochs": {"value": "10"},
        "opt": {"value": "sgd", "description": "optimizer"},
    },
    "General": {"seed": {"value": "7", "type": "int"}},
}


@contextmanager
def statements(conn: sa.Connection) -> Iterator[list[str]]:
    """The SQL the connection runs inside the block (an executemany counts once)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(conn, "before_cursor_execute", record)


def full_task(**extra: Any) -> dict[str, Any]:
    return {
        "name": "run",
        "project": "writes/deep",
        "status": "running",
        "tags": ["b", "a", "b"],
        "comment": "first try",
        "user": "ann",
        "execution": {"repository": "https://example.com/r.git", "entry_point": "train.py"},
        "runtime": {"host": "gpu1", "cpu_count": 8, "memory_gb": 31.5, "gpus": ["A100"]},
        "hyperparameters": PARAMS,
        "configuration": {"model": {"text": "layers: 3"}, "data/cfg": {"text": "{}"}},
        "user_properties": {"owner": {"value": "ann"}},
        **extra,
    }


def test_a_created_task_answers_what_reading_it_gives(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        parent = create_task(conn, name="parent", project="writes")
        for fields in (
            full_task(parent=parent["id"]),
            full_task(status="completed", tags=[]),
            {"name": "bare", "project": "writes"},
        ):
            created = create_task(conn, **fields)
            assert created == get_task(conn, created["id"])


def test_creating_a_task_reads_nothing_back(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        create_task(conn, name="first", project="writes/deep")  # the project exists after
        with statements(conn) as seen:
            create_task(conn, **full_task())
    first_insert = next(i for i, sql in enumerate(seen) if sql.startswith("INSERT INTO tasks"))
    after = seen[first_insert:]
    assert all(sql.startswith("INSERT") for sql in after), after
    # The project's id, the task, its tags and its three kinds of inputs.
    assert len(seen) <= 6, seen


def test_many_tasks_cost_the_statements_of_one(engine: sa.Engine) -> None:
    def write(count: int) -> Callable[[sa.Connection], list[str]]:
        def run(conn: sa.Connection) -> list[str]:
            new = [
                prepare_task(conn, **full_task(name=f"t{n}", project=f"many/p{n % 2}"))
                for n in range(count)
            ]
            return insert_tasks(conn, new)

        return run

    with engine.begin() as conn:
        write(2)(conn)  # the projects exist after
    counts = []
    for count in (3, 30):
        with engine.begin() as conn, statements(conn) as seen:
            ids = write(count)(conn)
        counts.append(len(seen))
        assert len(set(ids)) == count
    assert counts[0] == counts[1], counts
    with engine.connect() as conn:
        task = get_task(conn, ids[-1])
    assert task["hyperparameters"]["Args"]["opt"] == {
        "value": "sgd",
        "type": "str",
        "description": "optimizer",
    }
    assert task["project"]["name"] == "many/p1"
    assert task["tags"] == ["a", "b"]


def test_an_update_reads_the_task_row_once(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, **full_task())
        with statements(conn) as seen:
            answer = update_task(conn, task["id"], {"status": "completed", "tags": ["c"]})
        assert answer == get_task(conn, task["id"])
    assert answer["status"] == "completed" and answer["tags"] == ["c"]
    row_reads = [sql for sql in seen if sql.startswith("SELECT tasks.id, tasks.name")]
    assert len(row_reads) == 1, seen

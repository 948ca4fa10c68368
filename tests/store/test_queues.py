"""Queues on SQLite and PostgreSQL: the default queue, order, moves, lengths and workers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store import lifecycle, queues, workers
from tunelab.store.tasks import create_task


def enqueued(conn: sa.Connection, name: str, queue: str = "default") -> str:
    task_id: str = create_task(conn, name=name, project="q")["id"]
    lifecycle.enqueue(conn, task_id, queue)
    return task_id


def line(conn: sa.Connection, queue: str = "default") -> list[str]:
    return [entry["task"]["name"] for entry in queues.list_entries(conn, queue)]


def test_a_default_queue_exists_from_the_start(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        (default,) = [q for q in queues.list_queues(conn) if q["name"] == "default"]
        assert set(default) == {"id", "name", "created", "length", "workers"}
        assert (default["length"], default["workers"]) == (0, [])


def test_enqueue_appends_and_an_unknown_queue_is_created(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for name in ("a", "b", "c"):
            enqueued(conn, name, "gpu")
        entries = queues.list_entries(conn, "gpu")
        assert [e["task"]["name"] for e in entries] == ["a", "b", "c"]
        assert [e["position"] for e in entries] == [1, 2, 3]
        assert entries[0]["task"]["status"] == "queued"
        assert entries[0]["task"]["queue"] == "gpu"
        assert entries[0]["added"] <= entries[2]["added"]
        lengths = {q["name"]: q["length"] for q in queues.list_queues(conn)}
        assert lengths == {"default": 0, "gpu": 3}


def test_move_to_top_bottom_and_before(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        a, b, c, d = (enqueued(conn, name) for name in "abcd")
        queues.move_entry(conn, "default", c, "top")
        assert line(conn) == ["c", "a", "b", "d"]
        queues.move_entry(conn, "default", c, "bottom")
        assert line(conn) == ["a", "b", "d", "c"]
        moved = queues.move_entry(conn, "default", d, "before", a)
        assert [e["task"]["name"] for e in moved] == ["d", "a", "b", "c"]
        assert [e["position"] for e in moved] == [1, 2, 3, 4]
        # A task enqueued after a move still goes last.
        enqueued(conn, "e")
        assert line(conn) == ["d", "a", "b", "c", "e"]
        with pytest.raises(NotFound, match="not waiting in queue"):
            queues.move_entry(
                conn, "default", create_task(conn, name="x", project="q")["id"], "top"
            )
        with pytest.raises(InvalidInput, match="before itself"):
            queues.move_entry(conn, "default", a, "before", a)
        with pytest.raises(InvalidInput, match="needs the id"):
            queues.move_entry(conn, "default", a, "before")
        del b


def test_dequeue_and_stop_leave_the_line(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        a, b, c = (enqueued(conn, name) for name in "abc")
        lifecycle.dequeue(conn, b)
        lifecycle.stop(conn, c)
        assert line(conn) == ["a"]
        assert queues.entry_queue(conn, a) == "default"
        assert queues.entry_queue(conn, b) is None


def test_queues_list_the_workers_serving_them(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w2", ["gpu", "default"])
        workers.register(conn, "w1", ["gpu"])
        serving = {q["name"]: q["workers"] for q in queues.list_queues(conn)}
        assert serving == {"default": ["w2"], "gpu": ["w1", "w2"]}


def test_create_queue_is_idempotent_and_names_are_checked(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        made, created = queues.create_queue(conn, "cpu")
        again, created_again = queues.create_queue(conn, "cpu")
        assert (created, created_again) == (True, False)
        assert made == again
        for bad in ("", " x", "a/b", "x" * 257):
            with pytest.raises(InvalidInput):
                queues.create_queue(conn, bad)
        with pytest.raises(NotFound, match="no queue named 'nope'"):
            queues.list_entries(conn, "nope")

"""Console storage on SQLite and PostgreSQL: order, live tail, search, dedupe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.store.test_scalars import ingest, make_task, points
from tunelab.errors import InvalidInput, NotFound
from tunelab.store.console import ConsoleLine, append_lines, delete_console, read_lines


def append(engine: sa.Engine, task_id: str, *texts: str, batch_id: str | None = None):
    with engine.begin() as conn:
        lines = [ConsoleLine("stdout", text, 100.0 + i) for i, text in enumerate(texts)]
        return append_lines(conn, task_id, lines, batch_id=batch_id)


def read(engine: sa.Engine, task_id: str, **kwargs):
    with engine.begin() as conn:
        return read_lines(conn, task_id, **kwargs)


def test_lines_read_back_in_order_with_their_fields(engine: sa.Engine) -> None:
    task = make_task(engine)
    with engine.begin() as conn:
        append_lines(
            conn,
            task,
            [ConsoleLine("stdout", "epoch 1", 5.0), ConsoleLine("stderr", "warning!", 6.0)],
        )
    page = read(engine, task)
    assert [(line.stream, line.text, line.ts) for line in page.lines] == [
        ("stdout", "epoch 1", 5.0),
        ("stderr", "warning!", 6.0),
    ]
    assert page.lines[0].seq < page.lines[1].seq
    assert page.next == page.lines[-1].seq


def test_tail_after_reads_only_new_lines(engine: sa.Engine) -> None:
    task = make_task(engine)
    append(engine, task, "a", "b")
    first = read(engine, task, after=0)
    assert read(engine, task, after=first.next).lines == []
    assert read(engine, task, after=first.next).next == first.next
    append(engine, task, "c")
    second = read(engine, task, after=first.next)
    assert [line.text for line in second.lines] == ["c"]
    assert second.next > first.next


def test_limit_pages_through_the_console(engine: sa.Engine) -> None:
    task = make_task(engine)
    append(engine, task, *[f"line {i}" for i in range(25)])
    seen: list[str] = []
    after = 0
    while page := read(engine, task, after=after, limit=10).lines:
        seen += [line.text for line in page]
        after = page[-1].seq
    assert seen == [f"line {i}" for i in range(25)]


def test_search_ignores_case_and_treats_wildcards_literally(engine: sa.Engine) -> None:
    task = make_task(engine)
    append(engine, task, "Loss is NaN", "all good", "100% done", "1000 done", "nan again")
    assert [line.text for line in read(engine, task, search="nan").lines] == [
        "Loss is NaN",
        "nan again",
    ]
    assert [line.text for line in read(engine, task, search="0%").lines] == ["100% done"]
    tail = read(engine, task, search="done", limit=1)
    assert [line.text for line in tail.lines] == ["100% done"]
    assert [line.text for line in read(engine, task, search="done", after=tail.next).lines] == [
        "1000 done"
    ]


def test_lines_of_other_tasks_stay_apart(engine: sa.Engine) -> None:
    first, second = make_task(engine), make_task(engine)
    append(engine, first, "mine")
    append(engine, second, "theirs")
    assert [line.text for line in read(engine, first).lines] == ["mine"]


def test_retried_batch_is_stored_once(engine: sa.Engine) -> None:
    task = make_task(engine)
    assert not append(engine, task, "once", batch_id="b1").duplicate
    again = append(engine, task, "once", batch_id="b1")
    assert (again.stored, again.duplicate) == (0, True)
    assert [line.text for line in read(engine, task).lines] == ["once"]


def test_console_and_scalar_batch_ids_do_not_collide(engine: sa.Engine) -> None:
    task = make_task(engine)
    ingest(engine, task, points("m", "v", [0], [1.0]), batch_id="1")
    assert not append(engine, task, "x", batch_id="1").duplicate


def test_unstorable_characters_are_replaced_not_refused(engine: sa.Engine) -> None:
    task = make_task(engine)
    append(engine, task, "nul\x00byte", "lone \ud800 surrogate")
    texts = [line.text for line in read(engine, task).lines]
    assert texts == ["nul\ufffdbyte", "lone ? surrogate"]


def test_missing_ts_is_stamped_on_arrival(engine: sa.Engine) -> None:
    task = make_task(engine)
    with engine.begin() as conn:
        append_lines(conn, task, [ConsoleLine("log", "hello")])
    assert read(engine, task).lines[0].ts > 1.6e9


def test_unknown_task_and_bad_stream_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(NotFound):
        append(engine, "0" * 32, "x")
    with pytest.raises(NotFound):
        append(engine, "0" * 32, "x", batch_id="b")
    task = make_task(engine)
    with engine.begin() as conn, pytest.raises(InvalidInput, match="stream"):
        append_lines(conn, task, [ConsoleLine("stdin", "x")])


def test_delete_console_forgets_lines_and_batch_ids(engine: sa.Engine) -> None:
    task = make_task(engine)
    append(engine, task, "old", batch_id="b")
    with engine.begin() as conn:
        delete_console(conn, task)
    assert read(engine, task).lines == []
    assert not append(engine, task, "new", batch_id="b").duplicate

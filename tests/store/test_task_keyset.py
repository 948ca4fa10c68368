"""Cursor pages and metric/hyperparameter filters of the task listing, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.test_task_listing import captured, sorts_every_row
from tunelab.errors import InvalidInput
from tunelab.store.schema import task_metrics
from tunelab.store.task_inputs import replace_inputs
from tunelab.store.task_listing import TaskQuery, list_tasks
from tunelab.store.tasks import create_task, update_task


def new_task(conn: sa.Connection, name: str, project: str = "p") -> str:
    task_id: str = create_task(conn, name=name, project=project)["id"]
    return task_id


def add_metric(conn: sa.Connection, task_id: str, last: float, metric: str = "acc") -> None:
    conn.execute(
        task_metrics.insert().values(
            task_id=task_id, metric=metric, variant="val", count=1, last=last, min=last, max=last
        )
    )


def set_params(conn: sa.Connection, task_id: str, **values: tuple[str, str]) -> None:
    section = {name: {"value": v, "type": t} for name, (v, t) in values.items()}
    replace_inputs(conn, task_id, "hyperparameters", {"Args": section})


def listing(conn: sa.Connection, below: int = 1_000_000, **query: Any) -> dict[str, Any]:
    return list_tasks(conn, TaskQuery(**query), sort_directly_below=below)


@pytest.fixture(params=["index-walk", "direct"])
def below(request: pytest.FixtureRequest) -> int:
    """The first page may come from either way of sorting; the cursor goes on from both."""
    return 0 if request.param == "index-walk" else 1_000_000


def by_cursor(conn: sa.Connection, below: int, order_by: str, page_size: int) -> list[str]:
    seen: list[str] = []
    answer = listing(conn, below, order_by=order_by, page_size=page_size)
    while True:
        assert answer["total"] == 11
        seen += [t["id"] for t in answer["items"]]
        if answer["next"] is None:
            assert len(answer["items"]) <= page_size
            return seen
        assert len(answer["items"]) == page_size
        answer = listing(conn, below, order_by=order_by, page_size=page_size, after=answer["next"])


SORTS = [
    "metrics.acc/val.last",
    "-metrics.acc/val.last",
    "hyperparameters.Args/lr",
    "-hyperparameters.Args/lr",
    "started",
    "-started",
    "name",
    "-last_update",
]


def test_cursor_pages_lay_the_whole_order_end_to_end(engine: sa.Engine, below: int) -> None:
    """Ties on the value, tasks without it, numbers and text: each task once, in order,
    for every kind of sort, both ways, and pages that end inside and at a part's end."""
    with engine.begin() as conn:
        for i in range(11):
            task_id = new_task(conn, f"t{i % 5}")
            if i % 3:
                add_metric(conn, task_id, last=float(i % 4))
                set_params(conn, task_id, lr=(str(i % 4) if i % 2 else f"text{i % 2}", "int"))
                update_task(conn, task_id, {"started": float(i % 4)})
        for order_by in SORTS:
            whole = [t["id"] for t in listing(conn, order_by=order_by, page_size=500)["items"]]
            assert len(set(whole)) == 11
            for page_size in (1, 3, 4):
                assert by_cursor(conn, below, order_by, page_size) == whole, (order_by, page_size)


def test_the_last_page_has_no_next(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for i in range(4):
            add_metric(conn, new_task(conn, f"t{i}"), last=float(i))
        first = listing(conn, order_by="metrics.acc/val.last", page_size=2)
        assert first["next"] is not None
        second = listing(conn, order_by="metrics.acc/val.last", page_size=2, after=first["next"])
        assert [t["name"] for t in second["items"]] == ["t2", "t3"]
        assert second["next"] is None


@pytest.mark.parametrize(
    "after, why",
    [
        ("not-a-cursor!", "invalid cursor"),
        ("W10", "invalid cursor"),  # "[]"
        ("WyJuYW1lIiwgMCwgIngiLCAiaWQiXQ", "order_by='name'"),  # made for another sort
        ("WyJtZXRyaWNzLmFjYy92YWwubGFzdCIsIDAsICJ4IiwgImlkIl0", "invalid cursor"),  # text value
        ("WyJtZXRyaWNzLmFjYy92YWwubGFzdCIsIDIsIG51bGwsICJpZCJd", "invalid cursor"),  # part 2
    ],
)
def test_foreign_cursors_are_refused(engine: sa.Engine, after: str, why: str) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput, match=why):
        listing(conn, order_by="metrics.acc/val.last", after=after)


def test_page_and_cursor_together_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for i in range(3):
            add_metric(conn, new_task(conn, f"t{i}"), last=float(i))
        first = listing(conn, order_by="metrics.acc/val.last", page_size=1)
        with pytest.raises(InvalidInput, match="either page or after"):
            listing(conn, order_by="metrics.acc/val.last", page=2, after=first["next"])


# --- filters -------------------------------------------------------------------------------


@pytest.fixture
def leaderboard(engine: sa.Engine) -> sa.Engine:
    """Five runs: acc 0.5..0.95, optimizers adam/sgd, lr as numbers; 'bare' has neither."""
    with engine.begin() as conn:
        for name, acc, optimizer, lr in [
            ("a", 0.5, "adam", "0.1"),
            ("b", 0.8, "sgd", "0.01"),
            ("c", 0.9, "adam", "1e-3"),
            ("d", 0.95, "adam", "0.0001"),
        ]:
            task_id = new_task(conn, name)
            add_metric(conn, task_id, acc)
            set_params(conn, task_id, optimizer=(optimizer, "str"), lr=(lr, "float"))
        new_task(conn, "bare")
    return engine


FILTERS = [
    ("metrics.acc/val.last > 0.8", "c d"),
    ("metrics.acc/val.last >= 0.8", "b c d"),
    ("metrics.acc/val.last<0.9", "a b"),
    ("metrics.acc/val.max <= 0.9", "a b c"),
    ("metrics.acc/val.last between 0.8 and 0.9", "b c"),
    ("metrics.acc/val.last = 0.9", "c"),
    ("metrics.acc/val.last != 0.9", "a b bare d"),
    ("metrics.acc/val.last is set", "a b c d"),
    ("metrics.acc/val.last is not set", "bare"),
    ("hyperparameters.Args/optimizer = adam", "a c d"),
    ("hyperparameters.Args/optimizer != adam", "b bare"),
    ("hyperparameters.Args/lr = 0.001", "c"),  # stored as 1e-3
    ("hyperparameters.Args/lr < 0.01", "c d"),
    ("hyperparameters.Args/lr between 0.001 and 0.1", "a b c"),
    ("hyperparameters.Args/lr IS SET", "a b c d"),
    ("hyperparameters.Args/seed is not set", "a b bare c d"),
]


def test_filters_on_metrics_and_hyperparameters(leaderboard: sa.Engine) -> None:
    with leaderboard.begin() as conn:
        for text, expected in FILTERS:
            answer = listing(conn, filters=(text,), order_by="name")
            assert [t["name"] for t in answer["items"]] == expected.split(), text
            assert answer["total"] == len(expected.split())
        both = ("hyperparameters.Args/optimizer = adam", "metrics.acc/val.last > 0.6")
        assert [t["name"] for t in listing(conn, filters=both)["items"]] == ["d", "c"]


def test_a_filter_and_a_sort_page_by_cursor_together(leaderboard: sa.Engine) -> None:
    with leaderboard.begin() as conn:
        query: dict[str, Any] = {
            "filters": ("hyperparameters.Args/optimizer = adam",),
            "order_by": "-metrics.acc/val.last",
            "page_size": 2,
        }
        first = listing(conn, 0, **query)
        second = listing(conn, 0, after=first["next"], **query)
    assert [t["name"] for t in first["items"]] == ["d", "c"]
    assert [t["name"] for t in second["items"]] == ["a"]
    assert first["total"] == 3 and second["next"] is None


@pytest.mark.parametrize("below", [0, 1_000_000], ids=["index-walk", "direct"])
def test_a_metric_filter_on_a_listing_sorted_by_metrics(leaderboard: sa.Engine, below: int) -> None:
    """The sort reads task_metrics too: the filter's rows are its own."""
    with leaderboard.begin() as conn:
        for order_by in ("metrics.acc/val.last", "-hyperparameters.Args/lr"):
            answer = listing(
                conn, below, filters=("metrics.acc/val.min >= 0.8",), order_by=order_by
            )
            found = [t["name"] for t in answer["items"]]
            assert found == ["b", "c", "d"], order_by


@pytest.mark.parametrize(
    "text",
    [
        "metrics.acc/val.last",
        "metrics.acc/val.last >",
        "metrics.acc/val.last > high",
        "metrics.acc/val.median > 1",
        "hyperparameters.Args/lr > fast",
        "hyperparameters.Args/lr between 0.1 and 0.01",
        "loss > 1",
        "name = x",
        "x" * 3000,
    ],
)
def test_bad_filters_are_refused(engine: sa.Engine, text: str) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput):
        listing(conn, filters=(text,))


# --- speed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("order_by", ["metrics.acc/val.last", "-metrics.acc/val.last"])
def test_a_cursor_page_starts_in_the_index_at_the_cursor(engine: sa.Engine, order_by: str) -> None:
    """No OFFSET, no sort of every row: the index (metric, variant, value, task id) is
    searched from the cursor's value, so a deep page reads what the first one does."""
    with engine.begin() as conn:
        for i in range(30):
            add_metric(conn, new_task(conn, f"t{i}"), last=float(i % 7))
        after = listing(conn, 0, order_by=order_by, page_size=5)["next"]
    with engine.begin() as conn:
        with captured(engine) as seen:
            listing(conn, 0, order_by=order_by, page_size=5, after=after)
        statement, parameters = next((s, p) for s, p in seen if "LIMIT" in s)
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = "\n".join(str(row[-1]) for row in rows)
            assert (
                "ix_task_metrics_metric_variant_last_task_id (metric=? AND variant=? AND last"
                in plan
            ), plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_sort = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            plan = "\n".join(str(row[0]) for row in rows)
            assert "ix_task_metrics_metric_variant_last_task_id" in plan, plan
            assert re.search(r"Index Cond: .*last >?[<>]=", plan), plan
        assert not sorts_every_row(plan), plan

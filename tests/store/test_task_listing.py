"""Listing tasks on SQLite and PostgreSQL: filters, every kind of sort, missing-last, pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store.schema import task_metrics
from tunelab.store.task_inputs import replace_inputs
from tunelab.store.task_listing import SORT_DIRECTLY_BELOW, TaskQuery, list_tasks
from tunelab.store.tasks import create_task, update_task


def new_task(conn: sa.Connection, name: str, project: str = "p", **fields: Any) -> str:
    task_id: str = create_task(conn, name=name, project=project, **fields)["id"]
    return task_id


def listing(conn: sa.Connection, below: int = SORT_DIRECTLY_BELOW, **query: Any) -> dict[str, Any]:
    query.setdefault("page_size", 500)
    return list_tasks(conn, TaskQuery(**query), sort_directly_below=below)


@pytest.fixture(params=["index-walk", "direct"])
def below(request: pytest.FixtureRequest) -> int:
    """Metric and parameter sorts take one of two ways, by how many tasks match; both must
    give the same order. Test data is small, so the index walk is asked for explicitly."""
    return 0 if request.param == "index-walk" else 1_000_000


def names(conn: sa.Connection, **query: Any) -> list[str]:
    return [item["name"] for item in listing(conn, **query)["items"]]


def add_metric(
    conn: sa.Connection,
    task_id: str,
    last: float | None,
    low: float | None = None,
    high: float | None = None,
    metric: str = "loss",
    variant: str = "val",
) -> None:
    conn.execute(
        task_metrics.insert().values(
            task_id=task_id,
            metric=metric,
            variant=variant,
            count=1,
            last=last,
            min=last if low is None else low,
            max=last if high is None else high,
        )
    )


def set_param(conn: sa.Connection, task_id: str, value: str, type_: str) -> None:
    replace_inputs(
        conn, task_id, "hyperparameters", {"Args": {"lr": {"value": value, "type": type_}}}
    )


# --- filters -------------------------------------------------------------------------------


def test_project_filter_takes_sub_projects_unless_told_not_to(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "top", "vision")
        new_task(conn, "mid", "vision/resnet")
        new_task(conn, "deep", "vision/resnet/deep")
        new_task(conn, "prefix-trap", "visionary")
        new_task(conn, "elsewhere", "audio")
        assert sorted(names(conn, project="vision")) == ["deep", "mid", "top"]
        assert sorted(names(conn, project="vision/resnet")) == ["deep", "mid"]
        assert names(conn, project="vision", include_subprojects=False) == ["top"]
        assert len(names(conn)) == 5
        with pytest.raises(NotFound):
            listing(conn, project="vis")


def test_like_wildcards_in_project_names_match_only_themselves(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "underscore", "a_b/x")
        new_task(conn, "letter", "axb/x")
        new_task(conn, "percent", "50%/x")
        new_task(conn, "fifty", "50x/y")
        assert names(conn, project="a_b") == ["underscore"]
        assert names(conn, project="50%") == ["percent"]


def test_status_is_any_of(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "draft")
        new_task(conn, "running", status="running")
        new_task(conn, "failed", status="running")
        new_task(conn, "completed", status="completed")
        update_task(conn, new_task(conn, "failed-2", status="running"), {"status": "failed"})
        listed = names(conn, statuses=("running", "failed"), order_by="name")
        assert listed == ["failed", "failed-2", "running"]
        with pytest.raises(InvalidInput, match="finished"):
            listing(conn, statuses=("finished",))


def test_tags_are_all_of(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "ab", tags=["a", "b"])
        new_task(conn, "a", tags=["a"])
        new_task(conn, "abc", tags=["a", "b", "c"])
        new_task(conn, "none")
        assert names(conn, tags=("a", "b"), order_by="name") == ["ab", "abc"]
        assert names(conn, tags=("a",), order_by="name") == ["a", "ab", "abc"]
        assert names(conn, tags=("zzz",)) == []


def test_search_is_case_insensitive_and_literal(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "ResNet 50% dropout")
        new_task(conn, "resnet 50 baseline")
        new_task(conn, "vit_small")
        new_task(conn, "vitXsmall")
        assert sorted(names(conn, search="RESNET")) == ["ResNet 50% dropout", "resnet 50 baseline"]
        assert names(conn, search="50%") == ["ResNet 50% dropout"]
        assert names(conn, search="t_s") == ["vit_small"]


def test_archived_tasks_are_hidden_unless_asked_for(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "live")
        update_task(conn, new_task(conn, "old"), {"archived": True})
        assert names(conn) == ["live"]
        assert names(conn, archived="true") == ["old"]
        assert sorted(names(conn, archived="all")) == ["live", "old"]
        with pytest.raises(InvalidInput):
            listing(conn, archived="maybe")


def test_filters_combine_and_the_total_counts_them_all(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for i in range(7):
            new_task(conn, f"hit-{i}", "vision/x", status="running", tags=["keep"])
        new_task(conn, "miss-status", "vision/x", tags=["keep"])
        new_task(conn, "miss-tag", "vision/x", status="running")
        new_task(conn, "miss-project", "audio", status="running", tags=["keep"])
        page = listing(
            conn, project="vision", statuses=("running",), tags=("keep",), search="HIT", page_size=3
        )
        assert page["total"] == 7
        assert len(page["items"]) == 3
        assert page["page"] == 1 and page["page_size"] == 3


# --- sorting -------------------------------------------------------------------------------


def test_default_sort_is_newest_update_first(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = new_task(conn, "first")
        new_task(conn, "second")
        new_task(conn, "third")
        update_task(conn, first, {"comment": "touched last"})
        assert names(conn) == ["first", "third", "second"]
        assert names(conn, order_by="last_update") == ["second", "third", "first"]


def test_field_sort_breaks_ties_by_id_in_both_directions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ids = sorted(new_task(conn, "same") for _ in range(3))
        new_task(conn, "alpha")
        new_task(conn, "zulu")
        up = listing(conn, order_by="name")["items"]
        assert [t["name"] for t in up] == ["alpha", "same", "same", "same", "zulu"]
        assert [t["id"] for t in up[1:4]] == ids
        down = listing(conn, order_by="-name")["items"]
        assert [t["id"] for t in down[1:4]] == ids[::-1]
        assert "sort_value" not in up[0]


def test_tasks_without_a_time_sort_last_both_ways(engine: sa.Engine, below: int) -> None:
    with engine.begin() as conn:
        new_task(conn, "never")
        for name, started in [("early", 10.0), ("late", 30.0), ("middle", 20.0)]:
            update_task(conn, new_task(conn, name), {"started": started})
        up = listing(conn, below, order_by="started")["items"]
        assert [t["name"] for t in up] == ["early", "middle", "late", "never"]
        down = listing(conn, below, order_by="-started")["items"]
        assert [t["name"] for t in down] == ["late", "middle", "early", "never"]


# Values of Args/lr and how they sort: numbers (int/float types) numerically, then other
# values as text, then tasks without the parameter.
PARAMS = [
    ("ten", "10", "int"),
    ("nine", "9", "int"),
    ("two-and-half", "2.5", "float"),
    ("milli", "1e-3", "float"),
    ("minus-one", "-1", "int"),
    ("zeta", "zeta", "str"),
    ("alpha", "alpha", "str"),
    ("not-a-number", "abc", "float"),  # must not crash PostgreSQL's cast
    ("half-number", "12abc", "int"),
]


def test_numbers_beyond_a_double_are_stored_and_sorting_still_works(
    engine: sa.Engine, below: int
) -> None:
    """PostgreSQL refuses to cast "1e999" to a double: such a value must still be stored as
    given (it once failed the whole write), and sorting by the parameter still orders the
    numbers a double holds."""
    huge = ["1e999", "-1e999", "1e-400", "9" * 400]
    with engine.begin() as conn:
        for k, value in enumerate(huge):
            set_param(conn, new_task(conn, f"huge-{k}"), value, "float")
        set_param(conn, new_task(conn, "ten"), "10", "int")
        set_param(conn, new_task(conn, "two"), "2", "float")
        up = listing(conn, below, order_by="hyperparameters.Args/lr")["items"]
    values = [t["sort_value"] for t in up]
    assert sorted(values) == sorted([*huge, "10", "2"])
    assert values.index("2") < values.index("10")


def test_sort_by_hyperparameter_is_numeric_for_numbers(engine: sa.Engine, below: int) -> None:
    with engine.begin() as conn:
        for name, value, type_ in PARAMS:
            set_param(conn, new_task(conn, name), value, type_)
        missing = sorted([new_task(conn, "missing-1"), new_task(conn, "missing-2")])
        up = listing(conn, below, order_by="hyperparameters.Args/lr")["items"]
        assert [t["name"] for t in up[:9]] == [
            "minus-one",
            "milli",
            "two-and-half",
            "nine",
            "ten",
            "half-number",  # "12abc" < "abc" < "alpha" < "zeta" as text
            "not-a-number",
            "alpha",
            "zeta",
        ]
        assert [t["id"] for t in up[9:]] == missing
        assert [t["sort_value"] for t in up] == [
            "-1", "1e-3", "2.5", "9", "10", "12abc", "abc", "alpha", "zeta", None, None
        ]  # fmt: skip
        down = listing(conn, below, order_by="-hyperparameters.Args/lr")["items"]
        assert [t["name"] for t in down[:9]] == [
            "ten",
            "nine",
            "two-and-half",
            "milli",
            "minus-one",
            "zeta",
            "alpha",
            "not-a-number",
            "half-number",
        ]
        assert [t["id"] for t in down[9:]] == missing[::-1]


def test_sort_by_metric_value_with_missing_last(engine: sa.Engine, below: int) -> None:
    with engine.begin() as conn:
        add_metric(conn, new_task(conn, "b"), last=0.5, low=0.1, high=0.9)
        add_metric(conn, new_task(conn, "a"), last=0.2, low=0.2, high=2.0)
        add_metric(conn, new_task(conn, "c"), last=0.9, low=0.05, high=1.0)
        add_metric(conn, new_task(conn, "no-value"), last=None, low=None, high=None)
        add_metric(conn, new_task(conn, "other-variant"), last=0.0, variant="train")
        # No row, a row without a value, a row of another variant: all lack loss/val.
        new_task(conn, "no-metric")
        lacking = {"no-metric", "no-value", "other-variant"}
        tail = sorted(t["id"] for t in listing(conn)["items"] if t["name"] in lacking)

        def order(key: str) -> list[str]:
            items = listing(conn, below, order_by=key)["items"]
            ids_last = [t["id"] for t in items[3:]]
            assert ids_last == (tail[::-1] if key.startswith("-") else tail)
            return [t["name"] for t in items[:3]]

        assert order("metrics.loss/val.last") == ["a", "b", "c"]
        assert order("-metrics.loss/val.last") == ["c", "b", "a"]
        assert order("metrics.loss/val.min") == ["c", "b", "a"]
        assert order("-metrics.loss/val.max") == ["a", "c", "b"]
        items = listing(conn, below, order_by="metrics.loss/val.last")["items"]
        assert [t["sort_value"] for t in items] == [0.2, 0.5, 0.9, None, None, None]


def test_metric_names_may_hold_slashes(engine: sa.Engine, below: int) -> None:
    with engine.begin() as conn:
        add_metric(conn, new_task(conn, "high"), last=3.0, metric="train/loss", variant="x")
        add_metric(conn, new_task(conn, "low"), last=1.0, metric="train/loss", variant="x")
        listed = listing(conn, below, order_by="metrics.train/loss/x.last")["items"]
        assert [t["name"] for t in listed] == ["low", "high"]


# --- pages ---------------------------------------------------------------------------------


def all_pages(conn: sa.Connection, below: int, order_by: str, page_size: int) -> list[str]:
    """Every page in turn; checks each reports the same total and the last one is short."""
    seen: list[str] = []
    page = 1
    while True:
        answer = listing(conn, below, order_by=order_by, page=page, page_size=page_size)
        assert answer["total"] == 11
        seen += [t["id"] for t in answer["items"]]
        if len(answer["items"]) < page_size:
            return seen
        page += 1


@pytest.mark.parametrize(
    "order_by",
    [
        "metrics.loss/val.last",
        "-metrics.loss/val.last",
        "hyperparameters.Args/lr",
        "-hyperparameters.Args/lr",
        "started",
        "-started",
        "-name",
    ],
)
@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 7])
def test_pages_lay_the_whole_order_end_to_end(
    engine: sa.Engine, below: int, order_by: str, page_size: int
) -> None:
    """Pages cross from tasks with the value to tasks without it, and some start past them."""
    with engine.begin() as conn:
        for i in range(11):
            task_id = new_task(conn, f"t{i:02d}")
            if i % 3:  # 7 with the value, 4 without, interleaved by creation
                add_metric(conn, task_id, last=float(i % 4))
                set_param(conn, task_id, str(i % 4) if i % 2 else f"text{i}", "int")
                update_task(conn, task_id, {"started": float(i % 4)})
        # One page of everything, sorted directly, is the reference for both ways.
        whole = [t["id"] for t in listing(conn, 1_000_000, order_by=order_by)["items"]]
        assert len(whole) == len(set(whole)) == 11
        assert all_pages(conn, below, order_by, page_size) == whole
        beyond = listing(conn, below, order_by=order_by, page=100, page_size=page_size)
        assert beyond["items"] == [] and beyond["total"] == 11


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_by",
    [
        "bogus",
        "-",
        "execution",
        "hyperparameters.Args",
        "hyperparameters./lr",
        "metrics.loss.last",
        "metrics.loss/val.median",
        "metrics.loss/val",
    ],
)
def test_unknown_sort_keys_are_refused_with_the_valid_forms(
    engine: sa.Engine, order_by: str
) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput) as refused:
        listing(conn, order_by=order_by)
    assert "last_update" in refused.value.detail["valid"]
    assert "metrics.METRIC/VARIANT.last" in refused.value.detail["valid"]
    assert "hyperparameters.SECTION/NAME" in refused.value.message


@pytest.mark.parametrize("page, page_size", [(0, 50), (1, 0), (1, 501)])
def test_page_bounds(engine: sa.Engine, page: int, page_size: int) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput):
        listing(conn, page=page, page_size=page_size)


# --- speed ---------------------------------------------------------------------------------


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def first_page_plan(engine: sa.Engine, order_by: str) -> str:
    """The query plan of the statement that reads the first page for ``order_by``."""
    with engine.begin() as conn:
        with captured(engine) as seen:
            listing(conn, 0, project="p", order_by=order_by, page_size=50)
        statement, parameters = next((s, p) for s, p in seen if "LIMIT" in s)
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(str(row[-1]) for row in rows)
        # Small test tables make a sequential scan cheapest; say it is not, to learn whether
        # the index can serve this query at all.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
        return "\n".join(str(row[0]) for row in rows)


def sorts_every_row(plan: str) -> bool:
    """Whether the plan sorts all candidate rows instead of reading them in index order
    (sorting only ties on the id, within equal values, is fine)."""
    return (
        "TEMP B-TREE FOR ORDER BY" in plan
        or re.search(r"^\s*(->\s+)?Sort\s+\(", plan, re.M) is not None
    )


def test_metric_and_parameter_sorts_walk_their_indexes(engine: sa.Engine) -> None:
    """The first page reads about as many rows as it shows, however many tasks there are."""
    with engine.begin() as conn:
        for i in range(30):
            task_id = new_task(conn, f"t{i}")
            add_metric(conn, task_id, last=float(i))
            set_param(conn, task_id, str(i), "int")
    for order_by, index in [
        ("metrics.loss/val.last", "ix_task_metrics_metric_variant_last"),
        ("-metrics.loss/val.last", "ix_task_metrics_metric_variant_last"),
        ("hyperparameters.Args/lr", "ix_task_params_section_name_number"),
        ("-hyperparameters.Args/lr", "ix_task_params_section_name_number"),
    ]:
        plan = first_page_plan(engine, order_by)
        assert index in plan, plan
        assert not sorts_every_row(plan), plan

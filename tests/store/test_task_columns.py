"""Extra table columns on SQLite and PostgreSQL: their values for a page of tasks, the names
on offer for a project; and the listing pieces the web tables use (type filter, counts by
status, recently updated projects)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput
from tunelab.store import task_columns
from tunelab.store.projects import project_id_by_name
from tunelab.store.schema import task_metrics
from tunelab.store.task_columns import column_values, columns_on_offer, parse_column, parse_columns
from tunelab.store.task_inputs import replace_inputs
from tunelab.store.task_listing import (
    TaskQuery,
    list_tasks,
    recently_updated_projects,
    status_counts,
)
from tunelab.store.tasks import create_task, update_task


def new_task(conn: sa.Connection, name: str, project: str = "p", **fields: Any) -> str:
    task_id: str = create_task(conn, name=name, project=project, **fields)["id"]
    return task_id


def params(conn: sa.Connection, task_id: str, section: str, **values: Any) -> None:
    replace_inputs(
        conn,
        task_id,
        "hyperparameters",
        {
            section: {
                k: {"value": str(v), "type": type(v).__name__, "description": ""}
                for k, v in values.items()
            }
        },
    )


def metric(conn: sa.Connection, task_id: str, name: str, variant: str, *values: float) -> None:
    conn.execute(
        task_metrics.insert().values(
            task_id=task_id,
            metric=name,
            variant=variant,
            count=len(values),
            last=values[-1],
            min=min(values),
            max=max(values),
        )
    )


def test_columns_are_named_as_sorts_are() -> None:
    lr = parse_column("hyperparameters.Args/lr")
    assert (lr.section, lr.name, lr.is_metric, lr.label) == ("Args", "lr", False, "Args/lr")
    loss = parse_column("metrics.train/loss/val.min")
    assert (loss.metric, loss.variant, loss.value) == ("train/loss", "val", "min")
    assert loss.label == "train/loss/val min"
    for bad in ("name", "-metrics.loss/val.min", "metrics.loss/val.mean", "hyperparameters.lr"):
        with pytest.raises(InvalidInput):
            parse_column(bad)
    # Duplicates and blanks drop out; order is kept.
    keys = [
        c.key
        for c in parse_columns(["metrics.a/b.last", "", "hyperparameters.S/x", "metrics.a/b.last"])
    ]
    assert keys == ["metrics.a/b.last", "hyperparameters.S/x"]
    with pytest.raises(InvalidInput, match="at most"):
        parse_columns([f"hyperparameters.S/p{i}" for i in range(task_columns.MAX_COLUMNS + 1)])


def test_values_of_a_page_of_tasks_one_query_per_kind(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        a, b, c = (new_task(conn, n) for n in "abc")
        params(conn, a, "Args", lr=0.1, batch=32)
        params(conn, b, "Args", lr=0.01)
        metric(conn, a, "loss", "val", 3.0, 1.0, 2.0)
        metric(conn, b, "loss", "val", 5.0, 4.0)
        metric(conn, b, "acc", "val", 0.5, 0.9)
        columns = parse_columns(
            [
                "hyperparameters.Args/lr",
                "hyperparameters.Args/batch",
                "metrics.loss/val.last",
                "metrics.loss/val.min",
                "metrics.loss/val.max",
                "metrics.acc/val.max",
            ]
        )
        statements: list[str] = []
        sa.event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        found = column_values(conn, [a, b, c], columns)
        assert len(statements) == 2
    assert found[a] == {
        "hyperparameters.Args/lr": "0.1",
        "hyperparameters.Args/batch": "32",
        "metrics.loss/val.last": 2.0,
        "metrics.loss/val.min": 1.0,
        "metrics.loss/val.max": 3.0,
    }
    assert found[b] == {
        "hyperparameters.Args/lr": "0.01",
        "metrics.loss/val.last": 4.0,
        "metrics.loss/val.min": 4.0,
        "metrics.loss/val.max": 5.0,
        "metrics.acc/val.max": 0.9,
    }
    assert found[c] == {}


def test_no_tasks_or_no_columns_ask_nothing(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        a = new_task(conn, "a")
        statements: list[str] = []
        sa.event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        assert column_values(conn, [], parse_columns(["metrics.l/v.min"])) == {}
        assert column_values(conn, [a], []) == {a: {}}
        assert statements == []


def test_names_on_offer_come_from_the_project_and_its_subprojects(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        top = new_task(conn, "top", project="vision")
        sub = new_task(conn, "sub", project="vision/resnet")
        other = new_task(conn, "other", project="audio")
        params(conn, top, "Args", lr=0.1)
        params(conn, sub, "General", depth=50)
        params(conn, other, "Args", sample_rate=16000)
        metric(conn, sub, "loss", "val", 1.0)
        metric(conn, other, "wer", "test", 0.2)
        vision = columns_on_offer(conn, "vision")
        resnet = columns_on_offer(conn, "vision/resnet")
        everything = columns_on_offer(conn)
    assert vision.hyperparameters == [("Args", "lr"), ("General", "depth")]
    assert vision.metrics == [("loss", "val")]
    assert vision.complete
    assert resnet.hyperparameters == [("General", "depth")]
    assert everything.metrics == [("loss", "val"), ("wer", "test")]


def test_names_on_offer_are_bounded(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_columns, "SAMPLE_TASKS", 2)
    monkeypatch.setattr(task_columns, "MAX_NAMES", 3)
    with engine.begin() as conn:
        old = new_task(conn, "old")
        params(conn, old, "Old", only_here=1)
        for i in range(2):
            task_id = new_task(conn, f"new{i}")
            params(conn, task_id, "Args", **{f"p{i}{j}": j for j in range(3)})
        offer = columns_on_offer(conn, "p")
    # The oldest task is outside the sample; the names are cut at the cap.
    assert offer.hyperparameters == [("Args", "p00"), ("Args", "p01"), ("Args", "p02")]
    assert not offer.complete


def test_system_metrics_are_offered_apart_and_never_under_the_users_cap(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_columns, "MAX_NAMES", 2)
    with engine.begin() as conn:
        task_id = new_task(conn, "monitored")
        # ":" sorts before letters: by name alone these would fill the cap.
        for series in ("cpu_usage", "memory_used_gb", "disk_free_percent"):
            metric(conn, task_id, ":monitor:machine", series, 1.0)
        metric(conn, task_id, ":monitor:gpu", "gpu_0_utilization", 50.0)
        metric(conn, task_id, "loss", "val", 0.5)
        metric(conn, task_id, "accuracy", "val", 0.9)
        offer = columns_on_offer(conn, "p")
    assert offer.metrics == [("accuracy", "val"), ("loss", "val")]
    assert offer.system_metrics == [
        (":monitor:gpu", "gpu_0_utilization"),
        (":monitor:machine", "cpu_usage"),
    ]
    assert not offer.complete


def test_listing_filters_by_type(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "train", type="training")
        new_task(conn, "test", type="testing")
        new_task(conn, "infer", type="inference")
        found = list_tasks(conn, TaskQuery(project="p", types=("testing", "inference")))
        assert sorted(t["name"] for t in found["items"]) == ["infer", "test"]
        with pytest.raises(InvalidInput, match="unknown type"):
            list_tasks(conn, TaskQuery(project="p", types=("nonsense",)))


def test_counts_by_status_leave_archived_tasks_out(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        new_task(conn, "a", project="x", status="running")
        new_task(conn, "b", project="x", status="completed")
        new_task(conn, "c", project="x", status="completed")
        gone = new_task(conn, "d", project="x", status="completed")
        update_task(conn, gone, {"archived": True})
        new_task(conn, "e", project="x/y")
        counts = status_counts(conn)
        x, y = project_id_by_name(conn, "x"), project_id_by_name(conn, "x/y")
    assert counts[x] == {"running": 1, "completed": 2}
    assert counts[y] == {"draft": 1}


def test_recently_updated_projects_come_latest_first(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = new_task(conn, "a", project="one")
        new_task(conn, "b", project="two")
        new_task(conn, "c", project="three")
        update_task(conn, first, {"comment": "touched last"})
        ids = recently_updated_projects(conn, 2)
        names = [project_id_by_name(conn, n) for n in ("one", "three")]
    assert ids == names

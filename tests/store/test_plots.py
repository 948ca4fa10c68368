"""Plots on SQLite and PostgreSQL: each kind stored and read back, replace, last iteration,
dedupe, limits, and what reset, delete and clone do with them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tests.store.test_scalars import make_task
from tunelab.domain.plots import MAX_PLOT_BYTES
from tunelab.errors import InvalidInput, NotFound, PayloadTooLarge
from tunelab.store import lifecycle
from tunelab.store.plots import plot_iterations, read_plot, read_plots, store_plots
from tunelab.store.schema import ingested_batches, task_plots

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

PLOTS: dict[str, dict[str, Any]] = {
    "histogram": {
        "values": [[1, 4, 2], [0.5, 1.5, 3]],
        "labels": ["train", "val"],
        "xlabels": ["a", "b", "c"],
        "xaxis": "bin",
        "yaxis": "count",
    },
    "scatter2d": {
        "x": [0, 1, 2.5],
        "y": [1, 0.5, 0.25],
        "labels": None,
        "mode": "markers",
        "xaxis": "",
        "yaxis": "",
    },
    "confusion_matrix": {
        "matrix": [[5, 1], [2, 7]],
        "xlabels": ["cat", "dog"],
        "ylabels": ["cat", "dog"],
        "xaxis": "predicted",
        "yaxis": "actual",
        "yaxis_reversed": None,
    },
    "table": {"columns": ["name", "score"], "rows": [["a", 0.5], ["b", None]]},
    "image": {"mime": "image/png", "base64": base64.b64encode(PNG).decode()},
    "plotly": {
        "data": [{"type": "surface", "z": [[1, 2.5], [None, 4]], "name": "ü", "showscale": False}],
        "layout": {"scene": {"camera": {"eye": {"x": 1, "y": 2, "z": 3}}}, "title": None},
    },
}


def plot(kind: str, title: str = "t", series: str = "s", iteration: int = 0, **data: Any):
    return {
        "title": title,
        "series": series,
        "iteration": iteration,
        "kind": kind,
        "data": {**PLOTS.get(kind, {}), **data},
    }


def store(engine: sa.Engine, task_id: str, *plots: dict[str, Any], batch_id: str | None = None):
    with engine.begin() as conn:
        return store_plots(conn, task_id, list(plots), batch_id=batch_id)


def read(engine: sa.Engine, task_id: str, **kwargs: Any):
    with engine.begin() as conn:
        return read_plots(conn, task_id, **kwargs)


def test_each_kind_reads_back_as_reported(engine: sa.Engine) -> None:
    task = make_task(engine)
    result = store(engine, task, *(plot(kind, title=kind) for kind in PLOTS))
    assert (result.stored, result.duplicate) == (len(PLOTS), False)
    found = {p.title: p for p in read(engine, task)}
    assert set(found) == set(PLOTS)
    for kind, data in PLOTS.items():
        assert (found[kind].kind, found[kind].data, found[kind].iteration) == (kind, data, 0)
        assert found[kind].created > 0


def test_same_title_series_and_iteration_replaces(engine: sa.Engine) -> None:
    task = make_task(engine)
    store(engine, task, plot("scatter2d", y=[1, 1, 1]))
    store(engine, task, plot("scatter2d", y=[2, 2, 2]))
    # Twice in one batch: the last one wins.
    store(engine, task, plot("table", series="x"), plot("table", series="x", rows=[["z", 1]]))
    found = read(engine, task)
    assert [(p.series, p.kind) for p in found] == [("s", "scatter2d"), ("x", "table")]
    assert found[0].data["y"] == [2, 2, 2]
    assert found[1].data["rows"] == [["z", 1]]


def test_last_only_and_filters(engine: sa.Engine) -> None:
    task = make_task(engine)
    store(
        engine,
        task,
        *(
            plot("histogram", title="h", iteration=i, values=[[i, i, i]], labels=None)
            for i in (0, 5, 2)
        ),
        plot("histogram", title="h", series="other", iteration=1),
        plot("table", title="tab", iteration=7),
    )
    every = read(engine, task)
    assert [(p.title, p.series, p.iteration) for p in every] == [
        ("h", "other", 1),
        ("h", "s", 0),
        ("h", "s", 2),
        ("h", "s", 5),
        ("tab", "s", 7),
    ]
    last = read(engine, task, last_only=True)
    assert [(p.title, p.series, p.iteration) for p in last] == [
        ("h", "other", 1),
        ("h", "s", 5),
        ("tab", "s", 7),
    ]
    assert last[1].data["values"] == [[5, 5, 5]]
    assert [p.series for p in read(engine, task, title="h", last_only=True)] == ["other", "s"]
    assert [p.iteration for p in read(engine, task, title="h", series="s")] == [0, 2, 5]
    assert read(engine, task, iteration=2)[0].data["values"] == [[2, 2, 2]]
    with engine.begin() as conn:
        assert plot_iterations(conn, task) == {
            ("h", "other"): [1],
            ("h", "s"): [0, 2, 5],
            ("tab", "s"): [7],
        }
        assert read_plot(conn, task, "h", "s").iteration == 5
        assert read_plot(conn, task, "h", "s", 2).data["values"] == [[2, 2, 2]]
        with pytest.raises(NotFound, match="no plot 'h'/'s' at iteration 3"):
            read_plot(conn, task, "h", "s", 3)


def test_a_batch_sent_twice_is_stored_once(engine: sa.Engine) -> None:
    task = make_task(engine)
    assert store(engine, task, plot("table"), batch_id="b1").duplicate is False
    # A replaced plot proves the resend changed nothing.
    again = store(engine, task, plot("table", rows=[]), batch_id="b1")
    assert (again.stored, again.duplicate) == (0, True)
    assert read(engine, task)[0].data["rows"] == PLOTS["table"]["rows"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (plot("histogram", values=[[1, float("nan")]]), "numbers must be finite"),
        (plot("histogram", values=[[1, 2], [3]]), "same number"),
        (plot("histogram", xlabels=["only one"]), "xlabels has 1 items for 3"),
        (plot("scatter2d", x=[1, 2]), "x and y need the same number"),
        (plot("scatter2d", mode="dots"), "mode must be one of"),
        (plot("scatter2d", y=[1, "2", 3]), "not a number"),
        (plot("confusion_matrix", matrix=[[1, 2], [3]]), "same length"),
        (plot("table", rows=[["a"]]), "row 0 must be a list of 2 cells"),
        (plot("table", columns=[]), "header row"),
        (plot("image", base64="not base64!"), "not valid base64"),
        (plot("image", base64=base64.b64encode(b"GIF89a....").decode()), "not a image/png"),
        (plot("chart"), "kind must be one of"),
        (plot("table", title=""), "title must be non-empty"),
        (plot("table", iteration=True), "iteration must be a whole number"),
    ],
)
def test_bad_plots_are_refused_and_nothing_is_stored(
    engine: sa.Engine, bad: dict[str, Any], message: str
) -> None:
    task = make_task(engine)
    with pytest.raises(InvalidInput, match=message):
        store(engine, task, plot("table", title="fine"), bad, batch_id="b1")
    assert read(engine, task) == []
    with engine.begin() as conn:
        assert conn.execute(sa.select(ingested_batches)).all() == []


def test_size_limits(engine: sa.Engine) -> None:
    task = make_task(engine)
    rows = [["x" * 1000, i] for i in range(MAX_PLOT_BYTES // 1000)]
    with pytest.raises(PayloadTooLarge, match="more than the limit"):
        store(engine, task, plot("table", rows=rows))
    with pytest.raises(PayloadTooLarge, match="1001 plots"):
        store(engine, task, *(plot("table", iteration=i) for i in range(1001)))
    assert read(engine, task) == []


def test_unknown_task_is_not_found(engine: sa.Engine) -> None:
    with pytest.raises(NotFound):
        store(engine, "0" * 32, plot("table"))


def test_reset_deletes_plots_delete_cascades_clone_does_not_copy(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        done = task_in(conn, "completed")
        draft = task_in(conn, "draft")
    store(engine, done, plot("table"), batch_id="b1")
    store(engine, draft, plot("table"))
    with engine.begin() as conn:
        clone = lifecycle.clone(conn, done)["id"]
    assert read(engine, clone) == []
    with engine.begin() as conn:
        lifecycle.reset(conn, done)
    assert read(engine, done) == []
    # The batch id is forgotten with the plots: the rerun's first batch is stored.
    assert store(engine, done, plot("table"), batch_id="b1").duplicate is False
    with engine.begin() as conn:
        lifecycle.delete(conn, draft)
        left = conn.execute(sa.select(task_plots.c.task_id)).scalars().all()
    assert left == [done]


def test_plots_of_one_kind(engine: sa.Engine) -> None:
    task = make_task(engine)
    store(engine, task, *(plot(kind, title=kind) for kind in PLOTS))
    store(engine, task, plot("plotly", title="plotly", iteration=3, data=[]))
    (found,) = read(engine, task, kind="plotly", last_only=True)
    assert (found.title, found.iteration, found.data["data"]) == ("plotly", 3, [])
    assert [p.kind for p in read(engine, task, kind="table")] == ["table"]

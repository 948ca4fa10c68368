"""MLflow's run search on SQLite and PostgreSQL: the filter language parsed and run as SQL
over tasks, their metric summaries, hyperparameters, user properties and tags, ordered with
runs lacking the value last, and malformed filters refused with a sentence."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput
from tunelab.server.mlflow import run_search, run_writes
from tunelab.server.mlflow.metric_columns import MetricColumns, Point
from tunelab.server.mlflow.search_filter import parse_filter, parse_order_by
from tunelab.store import tasks
from tunelab.store.projects import project_id_by_name


def _run(conn: sa.Connection, name: str, **data: dict[str, object]) -> str:
    task_id: str = tasks.create_task(conn, name=name, project="mlflow-search", status="running")[
        "id"
    ]
    run_writes.log_params(conn, task_id, {k: str(v) for k, v in data.get("params", {}).items()})
    run_writes.set_tags(conn, task_id, {k: str(v) for k, v in data.get("tags", {}).items()})
    points = [
        Point(key, float(value), 1_000, step)
        for key, values in data.get("metrics", {}).items()
        for step, value in enumerate(np.atleast_1d(values))  # type: ignore[call-overload]
    ]
    run_writes.log_metrics(conn, task_id, MetricColumns.of_points(points))
    return task_id


def test_filters_and_orders_as_mlflow_does(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        adam = _run(
            conn,
            "adam-run",
            params={"lr": 0.01, "optimizer": "adam"},
            metrics={"val/loss": [0.9, 0.3], "acc": 0.91},
            tags={"team": "Vision", "baseline": "", "mlflow.source.git.commit": "abc123"},
        )
        sgd = _run(
            conn,
            "sgd-run",
            params={"lr": 0.1, "optimizer": "sgd"},
            metrics={"val/loss": 0.5, "acc": 0.72},
            tags={"team": "nlp"},
        )
        bare = _run(conn, "bare-run")
        tasks.update_task(conn, sgd, {"status": "completed"})
        project = project_id_by_name(conn, "mlflow-search")
        assert project is not None

        def found(text: str, *order: str, view: str = "ACTIVE_ONLY") -> list[str]:
            ids, more = run_search.search(
                conn,
                [project],
                view,
                parse_filter(text),
                [parse_order_by(o) for o in order],
                0,
                10,
            )
            assert not more
            return ids

        assert found("metrics.acc > 0.8") == [adam]
        assert found("metrics.`val/loss` < 0.4") == [adam]  # the latest value, not the first
        assert found("params.optimizer = 'sgd' AND params.lr = '0.1'") == [sgd]
        assert found("params.optimizer != 'sgd'") == [adam]  # a run without it never matches
        assert sorted(found("params.lr IS NULL")) == [bare]
        assert found("tags.team ILIKE 'vis%'") == [adam]
        assert found("tags.baseline = ''") == [adam]  # a label is a tag with no value
        assert found("tags.`mlflow.source.git.commit` = 'abc123'") == [adam]
        assert found("tags.mlflow.runName LIKE 'sgd%'") == [sgd]
        assert found("attributes.status = 'FINISHED'") == [sgd]
        assert found("attributes.status != 'FINISHED'", "attributes.run_name") == [adam, bare]
        assert found(f"attributes.run_id IN ('{adam}', '{bare}')", "run_name DESC") == [bare, adam]
        assert found("", "metrics.acc DESC") == [adam, sgd, bare]
        assert found("", "metrics.acc ASC") == [sgd, adam, bare]  # lacking it: last either way
        assert found("", "params.optimizer DESC") == [sgd, adam, bare]
        assert found("", view="DELETED_ONLY") == []
        ids, more = run_search.search(conn, [project], "ALL", [], [], 1, 1)
        assert len(ids) == 1 and more


@pytest.mark.parametrize(
    "text",
    [
        "metrics.acc > 'high'",
        "params.lr > 0.1",
        "acc > 1",
        "metrics.acc > 1 OR metrics.acc < 0",
        "nonsense.acc = 1",
        "params.lr = 'x' AND",
        "attributes.run_name IN ('a')",
        "tags.t = unquoted",
        "metrics.`unclosed > 1",
    ],
)
def test_a_malformed_filter_is_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_filter(text)

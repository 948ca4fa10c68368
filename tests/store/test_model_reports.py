"""What a model reports of itself, on SQLite and PostgreSQL: scalars per iteration (the same
point again replaces), single values, tables and line plots; refused once published; gone
with the model."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.model_reports import add_reports, get_reports
from tunelab.store.models import create_model, delete_model, publish_model
from tunelab.store.schema import model_reports

TABLE = {"columns": ["class", "f1"], "rows": [["cat", 0.9], ["dog", 0.8]]}
LINE = {"data": [{"type": "scatter", "name": "val", "x": [0, 1], "y": [0, 1]}], "layout": {}}


def _scalar(iteration: int, value: float) -> dict[str, Any]:
    return {"kind": "scalar", "title": "loss", "series": "val", "iteration": iteration,
            "value": value}  # fmt: skip


def test_reports_are_stored_grouped_and_replaced(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        model_id = create_model(conn, name="net", task_id=task_in(conn, "running"))["id"]
        single = {"kind": "single", "title": "Summary", "series": "accuracy"}
        stored = add_reports(
            conn,
            model_id,
            [
                _scalar(2, 0.5),
                _scalar(1, 0.9),
                {**single, "value": 0.75},
                {"kind": "table", "title": "scores", "series": "val", "data": TABLE},
                {"kind": "line", "title": "roc", "series": "plot", "iteration": 3, "data": LINE},
            ],
        )
        assert stored == 5
        # The same point again replaces it; the last of two equal keys in one call wins.
        assert add_reports(conn, model_id, [_scalar(2, 0.4), _scalar(2, 0.3)]) == 1
        add_reports(conn, model_id, [{**single, "value": 0.8}])

    with engine.connect() as conn:
        assert get_reports(conn, model_id) == {
            "scalars": [{"title": "loss", "series": "val", "points": [[1, 0.9], [2, 0.3]]}],
            "single_values": [{"name": "accuracy", "value": 0.8}],
            "plots": [
                {"kind": "line", "title": "roc", "series": "plot", "iteration": 3, "data": LINE},
                {"kind": "table", "title": "scores", "series": "val", "iteration": 0,
                 "data": TABLE},
            ],
        }  # fmt: skip


@pytest.mark.parametrize(
    "report",
    [
        {"kind": "bar", "series": "x", "value": 1.0},
        {"kind": "scalar", "title": "loss", "series": "val", "iteration": 1, "value": "high"},
        {"kind": "scalar", "title": "loss", "series": "val", "iteration": 1.5, "value": 1.0},
        {"kind": "scalar", "title": "loss", "series": "val", "iteration": 2**63, "value": 1.0},
        {"kind": "single", "series": "acc", "value": float("nan")},
        {"kind": "table", "title": "t", "series": "s", "data": ["not", "an", "object"]},
        {"kind": "scalar", "title": "x" * 513, "series": "val", "value": 1.0},
        {"kind": "single", "series": "a\x00b", "value": 1.0},
    ],
)
def test_bad_reports_are_refused(engine: sa.Engine, report: dict[str, Any]) -> None:
    with engine.begin() as conn:
        model_id = create_model(conn, name="net", task_id=task_in(conn, "running"))["id"]
        with pytest.raises(InvalidInput):
            add_reports(conn, model_id, [report])


def test_published_models_take_no_reports_and_deleted_ones_lose_them(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        model_id = create_model(conn, name="net", task_id=task_in(conn, "running"))["id"]
        add_reports(conn, model_id, [_scalar(1, 0.5)])
        other = create_model(conn, name="frozen", task_id=task_in(conn, "running"))["id"]
        publish_model(conn, other)
        with pytest.raises(Conflict, match="published"):
            add_reports(conn, other, [_scalar(1, 0.5)])
        with pytest.raises(NotFound):
            add_reports(conn, "0" * 32, [_scalar(1, 0.5)])
        with pytest.raises(NotFound):
            get_reports(conn, "0" * 32)

        delete_model(conn, model_id)
        left = conn.execute(sa.select(sa.func.count()).select_from(model_reports)).scalar_one()
        assert left == 0

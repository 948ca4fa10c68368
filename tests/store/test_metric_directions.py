"""Metric directions on SQLite and PostgreSQL: set on a project, inherited below it, the
nearest project winning, taken away again; names decide where nothing is set."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.domain.metric_direction import Direction, default_direction
from tunelab.errors import InvalidInput, NotFound
from tunelab.store.metric_directions import (
    directions_for,
    metric_direction,
    parse_direction,
    set_direction,
    set_directions,
)
from tunelab.store.projects import ensure_project
from tunelab.store.schema import metric_directions


def test_unset_metrics_go_by_their_name(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project = ensure_project(conn, "vision")
        assert metric_direction(conn, project, "rmse", "val") is Direction.LOWER
        assert metric_direction(conn, project, "eval", "accuracy") is Direction.HIGHER
        assert metric_direction(conn, project, "lr", "lr") is Direction.HIGHER
        found = directions_for(conn, project, [("rmse", "val")])[("rmse", "val")]
        assert found.set_in is None


def test_a_project_sets_a_direction_and_its_sub_projects_inherit_it(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        top = ensure_project(conn, "vision")
        deep = ensure_project(conn, "vision/resnet/deep")
        other = ensure_project(conn, "audio")
        set_direction(conn, top, "rmse", "val", Direction.HIGHER)
        assert metric_direction(conn, top, "rmse", "val") is Direction.HIGHER
        assert metric_direction(conn, deep, "rmse", "val") is Direction.HIGHER
        assert metric_direction(conn, other, "rmse", "val") is Direction.LOWER
        # Another series of the same title is another metric.
        assert metric_direction(conn, deep, "rmse", "train") is Direction.LOWER
        inherited = set_directions(conn, deep)[("rmse", "val")]
        assert (inherited.direction, inherited.set_in) == (Direction.HIGHER, "vision")


def test_the_nearest_project_wins_and_taking_it_away_falls_back(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        top = ensure_project(conn, "nlp")
        sub = ensure_project(conn, "nlp/bert")
        set_direction(conn, top, "score", "dev", Direction.LOWER)
        set_direction(conn, sub, "score", "dev", Direction.HIGHER)
        assert metric_direction(conn, sub, "score", "dev") is Direction.HIGHER
        assert metric_direction(conn, top, "score", "dev") is Direction.LOWER
        # Setting again replaces: one row per project and metric.
        set_direction(conn, sub, "score", "dev", Direction.LOWER)
        set_direction(conn, sub, "score", "dev", Direction.HIGHER)
        count = conn.execute(sa.select(sa.func.count()).select_from(metric_directions))
        assert count.scalar_one() == 2
        set_direction(conn, sub, "score", "dev", None)
        assert set_directions(conn, sub)[("score", "dev")].set_in == "nlp"
        set_direction(conn, top, "score", "dev", None)
        assert set_directions(conn, sub) == {}
        assert metric_direction(conn, sub, "score", "dev") is Direction.HIGHER  # by name


def test_deleting_a_project_deletes_its_directions(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project = ensure_project(conn, "scratch")
        set_direction(conn, project, "loss", "val", Direction.HIGHER)
        conn.execute(sa.text("DELETE FROM projects WHERE id = :id"), {"id": project})
        count = conn.execute(sa.select(sa.func.count()).select_from(metric_directions))
        assert count.scalar_one() == 0


def test_bad_names_directions_and_projects_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project = ensure_project(conn, "vision")
        with pytest.raises(InvalidInput, match="non-empty metric"):
            set_direction(conn, project, "", "val", Direction.LOWER)
        with pytest.raises(InvalidInput, match="at most 512"):
            set_direction(conn, project, "loss", "v" * 513, Direction.LOWER)
        with pytest.raises(NotFound):
            set_direction(conn, "0" * 32, "loss", "val", Direction.LOWER)
        with pytest.raises(NotFound):
            set_directions(conn, "0" * 32)
    with pytest.raises(InvalidInput, match="use lower, higher or default"):
        parse_direction("down")
    assert parse_direction("default") is None
    assert parse_direction("lower") is Direction.LOWER


@pytest.mark.parametrize(
    ("title", "series", "expected"),
    [
        ("rmse", "val", Direction.LOWER),
        ("loss", "total", Direction.LOWER),
        ("valLoss", "epoch", Direction.LOWER),
        ("eval", "wer", Direction.LOWER),
        ("metrics", "top1_err", Direction.LOWER),
        ("perplexity", "test", Direction.LOWER),
        ("metrics", "f1_loss", Direction.LOWER),  # a word saying lower wins
        ("metrics", "top1_accuracy", Direction.HIGHER),
        ("F1Score", "val", Direction.HIGHER),
        ("mAP@0.5", "val", Direction.HIGHER),
        ("cv", "neg_mean_squared_error", Direction.HIGHER),  # scikit-learn's negated error
        ("accuracy", "error", Direction.LOWER),  # the series is read first
        ("lr", "lr", Direction.HIGHER),  # a name saying neither
        ("answer", "cancer", Direction.HIGHER),  # "wer" and "cer" only as whole words
    ],
)
def test_the_default_direction_reads_the_name(title: str, series: str, expected: Direction) -> None:
    assert default_direction(title, series) is expected

"""Reading a pipeline run's record: its steps, their columns, and their live status."""

from __future__ import annotations

import json
from typing import Any

from tunelab.domain.pipeline_record import Step, layers, live_status, pipeline_steps


def _task(steps: Any, kind: str = "controller") -> dict[str, Any]:
    text = json.dumps({"steps": steps})
    return {"type": kind, "configuration": {"Pipeline": {"type": "json", "text": text}}}


def _step(name: str, *parents: str, status: str = "pending") -> dict[str, Any]:
    return {"name": name, "parents": list(parents), "status": status, "task_id": None}


def test_a_diamond_takes_three_columns_and_rows_keep_the_record_order() -> None:
    steps = pipeline_steps(
        _task([_step("a"), _step("b", "a"), _step("c", "a"), _step("d", "c", "b"), _step("e")])
    )
    assert steps is not None
    assert [s.name for s in steps] == ["a", "b", "c", "d", "e"]
    assert layers(steps) == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 0}


def test_only_a_controller_with_a_readable_record_is_a_pipeline_run() -> None:
    assert pipeline_steps(_task([_step("a")], kind="training")) is None
    assert pipeline_steps({"type": "controller", "configuration": {}}) is None
    broken = {"type": "controller", "configuration": {"Pipeline": {"text": "{oops"}}}
    assert pipeline_steps(broken) is None
    assert pipeline_steps(_task({"not": "a list"})) is None


def test_a_hostile_record_loses_what_does_not_fit() -> None:
    steps = pipeline_steps(
        _task([
            {"name": "a", "parents": ["ghost", 3], "status": "exploded", "task_id": 5},
            {"name": "a", "status": "running"},  # a second "a" is not another step
            "junk",
            {"name": ""},
            {"name": "b", "parents": "a", "status": "cached", "cached_from": "t1", "reason": 9},
        ])
    )  # fmt: skip
    assert steps == [
        Step("a", (), "pending", None, None, ""),
        Step("b", (), "cached", None, "t1", ""),
    ]
    assert steps[1].link == "t1"


def test_a_cycle_does_not_hang_the_layout() -> None:
    steps = [
        Step("a", ("b",), "pending", None, None, ""),
        Step("b", ("a",), "pending", None, None, ""),
    ]
    assert set(layers(steps)) == {"a", "b"}


def test_the_task_moves_an_active_step_on_but_not_an_ended_one() -> None:
    queued = Step("a", (), "queued", "t", None, "")
    assert live_status(queued, "running") == "running"
    assert live_status(queued, "published") == "completed"
    assert live_status(queued, None) == "queued"
    assert live_status(Step("a", (), "cached", "t", "t", ""), "running") == "cached"

"""A task's capture warnings on SQLite and PostgreSQL: appended in order, at most MAX_KEPT kept
with the rest counted, carried by the task, forgotten by reset, not copied by a clone;
refused on a published task and for bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.errors import Conflict, InvalidInput
from tunelab.store import lifecycle
from tunelab.store.capture_warnings import MAX_KEPT, append_warnings
from tunelab.store.tasks import get_task


def _warning(n: int) -> dict[str, object]:
    return {"what": f"hook {n}", "reason": f"RuntimeError: broken {n}", "time": 1.7e9 + n}


def test_appended_in_order_and_carried_by_the_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        assert get_task(conn, task_id)["capture_warnings"] == []
        append_warnings(conn, task_id, [_warning(1)])
        answer = append_warnings(conn, task_id, [_warning(2), {"what": "the diff"}])
        task = get_task(conn, task_id)
    assert [w["what"] for w in answer["capture_warnings"]] == ["hook 1", "hook 2", "the diff"]
    assert task["capture_warnings"][:2] == [
        {"what": "hook 1", "reason": "RuntimeError: broken 1", "time": 1.7e9 + 1},
        {"what": "hook 2", "reason": "RuntimeError: broken 2", "time": 1.7e9 + 2},
    ]
    assert task["capture_warnings"][2]["reason"] == "" and task["capture_warnings"][2]["time"] > 0
    assert task["capture_warnings_dropped"] == 0


def test_the_first_ones_are_kept_and_the_rest_counted(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        for start in range(0, MAX_KEPT + 30, 40):
            append_warnings(conn, task_id, [_warning(n) for n in range(start, start + 40)])
        task = get_task(conn, task_id)
    assert len(task["capture_warnings"]) == MAX_KEPT
    assert task["capture_warnings"][-1]["what"] == f"hook {MAX_KEPT - 1}"
    assert task["capture_warnings_dropped"] == 160 - MAX_KEPT


def test_reset_forgets_them_and_a_clone_starts_without(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "failed")
        append_warnings(conn, task_id, [_warning(1)])
        clone = lifecycle.clone(conn, task_id)
        assert clone["capture_warnings"] == []
        assert get_task(conn, task_id)["capture_warnings"] != []
        task = lifecycle.reset(conn, task_id).task
    assert (task["capture_warnings"], task["capture_warnings_dropped"]) == ([], 0)


def test_published_tasks_and_bad_input_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        published = task_in(conn, "published")
        running = task_in(conn, "running")
        with pytest.raises(Conflict):
            append_warnings(conn, published, [_warning(1)])
        for bad in ({"what": ""}, {"what": 3}, {"what": "x", "time": "now"}, {"what": "x",
                    "time": float("nan")}, {"what": "x", "reason": None}):  # fmt: skip
            with pytest.raises(InvalidInput):
                append_warnings(conn, running, [bad])
        append_warnings(conn, running, [{"what": "nul\x00", "reason": "a\x00b" + "x" * 9000}])
        (kept,) = get_task(conn, running)["capture_warnings"]
    assert "\x00" not in kept["what"] + kept["reason"] and len(kept["reason"]) == 4000

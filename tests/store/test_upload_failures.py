"""A task's failed uploads on SQLite and PostgreSQL: recorded (the same name replaces),
listed on the task, counted for the table, cleared; gone with reset and delete; refused
once the task is published and for bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store import lifecycle
from tunelab.store.tasks import get_task
from tunelab.store.upload_failures import (
    clear_failure,
    failure_counts,
    list_failures,
    record_failure,
)


def _record(conn: sa.Connection, task_id: str, name: str, reason: str = "no s3fs") -> None:
    record_failure(
        conn, task_id, kind="artifact", name=name, reason=reason, path="/tmp/f.parquet",
        host="gpu-3", uri="s3://b/f.parquet", record={"type": "dataframe", "format": "parquet"},
    )  # fmt: skip


def test_record_replace_list_count_and_clear(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        other = task_in(conn, "completed")
        _record(conn, task_id, "features")
        _record(conn, task_id, "features", reason="timed out")  # replaces
        record_failure(conn, task_id, kind="model", name="best", reason="denied",
                       record={"model_id": "ab" * 16})  # fmt: skip
        failures = get_task(conn, task_id)["upload_failures"]
        assert [(f["kind"], f["name"], f["reason"]) for f in failures] == [
            ("artifact", "features", "timed out"),
            ("model", "best", "denied"),
        ]
        assert failures[0]["record"] == {"type": "dataframe", "format": "parquet"}
        assert failure_counts(conn, [task_id, other]) == {task_id: 2}
        assert clear_failure(conn, task_id, kind="artifact", name="features") is True
        assert clear_failure(conn, task_id, kind="artifact", name="features") is False
        assert [f["name"] for f in list_failures(conn, task_id)] == ["best"]


def test_reset_and_delete_take_the_failures_with_them(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "failed")
        _record(conn, task_id, "features")
        lifecycle.reset(conn, task_id)
        assert list_failures(conn, task_id) == []
        _record(conn, task_id, "features")
        lifecycle.delete(conn, task_id)
        assert failure_counts(conn, [task_id]) == {}


def test_published_tasks_and_bad_input_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        published = task_in(conn, "published")
        with pytest.raises(Conflict):
            _record(conn, published, "late")
        task_id = task_in(conn, "running")
        with pytest.raises(InvalidInput):
            record_failure(conn, task_id, kind="dataset", name="x", reason="r")
        with pytest.raises(InvalidInput):
            record_failure(conn, task_id, kind="artifact", name="a/b", reason="r")
        with pytest.raises(NotFound):
            _record(conn, "0" * 32, "x")
        with pytest.raises(NotFound):
            list_failures(conn, "not-an-id")

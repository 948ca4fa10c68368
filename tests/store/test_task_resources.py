"""A task's resources and launch record on SQLite and PostgreSQL: written with the task,
carried by its JSON, edited field by field on a draft only, kept by a clone; the launch
record written by its launcher in any status and emptied by a reset."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.domain.resources import Resources
from tunelab.errors import Conflict, InvalidInput
from tunelab.store import lifecycle
from tunelab.store.tasks import get_task, update_task

NOTHING = Resources().to_dict()


def test_written_with_the_task_edited_on_a_draft_and_kept_by_a_clone(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        plain = task_in(conn, "draft")
        assert get_task(conn, plain)["resources"] == NOTHING
        assert get_task(conn, plain)["launch"] is None
        task_id = task_in(conn, "draft", resources={"gpus": 2, "gpu_type": "a100", "memory": "16g"})
        assert get_task(conn, task_id)["resources"] == {
            **NOTHING, "gpus": 2, "gpu_type": "a100", "memory": "16G"
        }  # fmt: skip
        # Fields sent change, the others stay; an empty value clears one.
        edited = update_task(conn, task_id, {"resources": {"cpus": 4, "time_limit": "90m"}})
        assert edited["resources"] == {
            **NOTHING, "gpus": 2, "gpu_type": "a100", "memory": "16G", "cpus": 4,
            "time_limit": "1:30:00",
        }  # fmt: skip
        edited = update_task(conn, task_id, {"resources": {"memory": "", "gpu_type": ""}})
        assert (edited["resources"]["memory"], edited["resources"]["gpus"]) == ("", 2)
        clone = lifecycle.clone(conn, task_id)
        assert clone["resources"] == edited["resources"]


def test_only_a_draft_changes_its_resources_and_bad_ones_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        done = task_in(conn, "completed", resources={"cpus": 2})
        with pytest.raises(Conflict):
            update_task(conn, done, {"resources": {"cpus": 8}})
        update_task(conn, done, {"resources": {"cpus": 2}})  # unchanged: fine
        draft = task_in(conn, "draft")
        for bad in ({"memory": "lots"}, {"time_limit": "2:99:00"}, {"cpus": 0}, {"gpu_type": "x"}):
            with pytest.raises(InvalidInput):
                update_task(conn, draft, {"resources": bad})
        assert get_task(conn, draft)["resources"] == NOTHING


def test_the_launch_record_is_written_while_running_and_emptied_by_a_reset(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        launch = {"backend": "slurm", "job_id": "42", "state": "PENDING", "reason": "Resources"}
        task = update_task(conn, task_id, {"launch": launch})
        assert task["launch"] == {**launch, "launcher": "", "updated": None, "cost": ""}
        with pytest.raises(InvalidInput):
            update_task(conn, task_id, {"launch": {"job_id": "4 2; rm"}})
        update_task(conn, task_id, {"status": "failed"})
        assert lifecycle.clone(conn, task_id)["launch"] is None
        assert lifecycle.reset(conn, task_id).task["launch"] is None

"""One task on SQLite and PostgreSQL: create, read whole, partial updates and their times."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.domain.task import EXECUTION_FIELDS
from tunelab.errors import InvalidInput, NotFound
from tunelab.store.projects import list_projects
from tunelab.store.tasks import create_task, get_task, update_task

TASK_KEYS = {
    "id",
    "last_changed_by",
    "name",
    "project",
    "type",
    "status",
    "status_reason",
    "tags",
    "comment",
    "parent",
    "user",
    "created",
    "started",
    "completed",
    "last_update",
    "last_iteration",
    "archived",
    "queue",
    "worker",
    "stop_requested",
    "execution",
    "hyperparameters",
    "configuration",
    "user_properties",
    "runtime",
    "input_model",
    "artifacts",
    "output_models",
    "upload_failures",
    "capture_warnings",
    "capture_warnings_dropped",
    "git_run",
    "resources",
    "launch",
}


def test_a_new_task_has_every_field_of_the_api_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="baseline", project="vision/resnet")
        assert set(task) == TASK_KEYS
        assert len(task["id"]) == 32
        assert task["project"]["name"] == "vision/resnet"
        assert task["type"] == "training"
        assert task["status"] == "draft"
        assert task["started"] is None and task["completed"] is None
        assert task["created"] == task["last_update"]
        assert task["tags"] == [] and task["parent"] is None and task["archived"] is False
        assert (task["input_model"], task["artifacts"], task["output_models"]) == (None, {}, [])
        assert task["upload_failures"] == []
        assert (task["capture_warnings"], task["capture_warnings_dropped"]) == ([], 0)
        assert task["git_run"] is None
        assert task["execution"] == dict.fromkeys(EXECUTION_FIELDS, "")
        assert task["runtime"] == {
            "host": "",
            "os": "",
            "python": "",
            "cpu_count": 0,
            "memory_gb": 0.0,
            "gpus": [],
            "os_user": "",
            "original": None,
        }
        assert task["hyperparameters"] == task["configuration"] == task["user_properties"] == {}
        assert get_task(conn, task["id"]) == task
        assert [p["name"] for p in list_projects(conn)] == ["vision", "vision/resnet"]


def test_create_stores_everything_given(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        parent = create_task(conn, name="controller", project="p", type="controller")
        task = create_task(
            conn,
            name="trial",
            project="p",
            type="testing",
            status="running",
            tags=["b", "a", "b"],
            comment="first try",
            parent=parent["id"],
            user="alice",
            execution={"repository": "https://example.com/r.git", "commit": "abc123"},
            runtime={"host": "gpu1", "cpu_count": 8, "memory_gb": 31.5, "gpus": ["A100"]},
            hyperparameters={"Args": {"lr": {"value": "0.1", "type": "float"}}},
            configuration={"General": {"text": '{"a": 1}'}},
            user_properties={"owner": {"value": "alice", "description": "who"}},
        )
        assert get_task(conn, task["id"]) == task
        assert task["type"] == "testing"
        assert task["tags"] == ["a", "b"]
        assert task["parent"] == parent["id"]
        assert task["started"] == task["created"]  # running from the start
        assert task["execution"]["commit"] == "abc123"
        assert task["execution"]["branch"] == ""
        assert task["runtime"]["gpus"] == ["A100"]
        assert task["hyperparameters"] == {
            "Args": {"lr": {"value": "0.1", "type": "float", "description": ""}}
        }
        assert task["configuration"] == {
            "General": {"text": '{"a": 1}', "type": "dictionary", "description": ""}
        }
        assert task["user_properties"] == {
            "owner": {"value": "alice", "type": "str", "description": "who"}
        }


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "sleeping"},
        {"status": "done"},
        {"name": ""},
        {"tags": ["ok", ""]},
        {"parent": "0" * 32},
        {"execution": {"repo": "x"}},
        {"runtime": {"cpu_count": -1}},
        {"project": "a//b"},
    ],
)
def test_create_refuses_bad_fields(engine: sa.Engine, bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "t", "project": "p", **bad}
    with engine.begin() as conn, pytest.raises(InvalidInput):
        create_task(conn, **fields)  # type: ignore[arg-type]


def test_update_changes_only_what_it_names(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(
            conn,
            name="t",
            project="p",
            tags=["x"],
            comment="keep",
            execution={"repository": "r", "commit": "c1"},
            runtime={"host": "h1", "cpu_count": 4},
        )
        updated = update_task(
            conn,
            task["id"],
            {
                "name": "renamed",
                "tags": ["y", "z"],
                "execution": {"commit": "c2", "diff": "+line"},
                "runtime": {"gpus": ["T4"]},
                "last_iteration": 120,
            },
        )
        assert updated["name"] == "renamed"
        assert updated["tags"] == ["y", "z"]
        assert updated["comment"] == "keep"
        assert updated["execution"]["repository"] == "r"
        assert updated["execution"]["commit"] == "c2"
        assert updated["execution"]["diff"] == "+line"
        assert updated["runtime"]["host"] == "h1"
        assert updated["runtime"]["cpu_count"] == 4
        assert updated["runtime"]["gpus"] == ["T4"]
        assert updated["last_iteration"] == 120
        assert updated["last_update"] > task["last_update"]
        assert updated["created"] == task["created"]
        assert get_task(conn, task["id"]) == updated


def test_status_changes_stamp_started_and_completed(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project="p")
        running = update_task(conn, task["id"], {"status": "running"})
        assert running["started"] is not None
        assert running["completed"] is None
        # Running again (a re-sent status) keeps the first start time.
        again = update_task(conn, task["id"], {"status": "running"})
        assert again["started"] == running["started"]
        done = update_task(conn, task["id"], {"status": "completed", "status_reason": "ok"})
        assert done["completed"] is not None and done["completed"] >= done["started"]
        assert done["status_reason"] == "ok"
        published = update_task(conn, task["id"], {"status": "published"})
        assert published["completed"] == done["completed"]


@pytest.mark.parametrize("final", ["completed", "failed", "stopped"])
def test_each_ending_status_stamps_completed(engine: sa.Engine, final: str) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project="p", status="running")
        assert update_task(conn, task["id"], {"status": final})["completed"] is not None


def test_times_given_with_the_status_win(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project="p")
        started = update_task(conn, task["id"], {"status": "running", "started": 100.0})
        assert started["started"] == 100.0
        ended = update_task(conn, task["id"], {"status": "failed", "completed": 200.0})
        assert ended["completed"] == 200.0
        cleared = update_task(conn, task["id"], {"started": None, "completed": None})
        assert cleared["started"] is None and cleared["completed"] is None


def test_parent_and_archived_can_be_set_and_cleared(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        parent = create_task(conn, name="parent", project="p")
        task = create_task(conn, name="child", project="p")
        assert update_task(conn, task["id"], {"parent": parent["id"]})["parent"] == parent["id"]
        assert update_task(conn, task["id"], {"parent": None})["parent"] is None
        assert update_task(conn, task["id"], {"archived": True})["archived"] is True


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "finished"},
        {"type": "train"},
        {"name": None},
        {"last_iteration": -1},
        {"started": float("nan")},
        {"execution": {"commit": 5}},
        {"runtime": {"memory_gb": "lots"}},
        {"runtime": {"os_user": 1}},
        {"runtime": {"original": "laptop"}},
        {"runtime": {"original": {"host": "a", "original": {"host": "b"}}}},
        {"runtime": {"original": {"hostname": "a"}}},
        {"project": "elsewhere"},
        {"tags": "a"},
    ],
)
def test_update_refuses_bad_changes(engine: sa.Engine, changes: dict[str, object]) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project="p")
        with pytest.raises(InvalidInput):
            update_task(conn, task["id"], changes)


def test_a_runtime_keeps_the_one_first_recorded(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project="p", runtime={"host": "laptop"})
        first = {**task["runtime"], "os_user": "ada"}
        changed = update_task(
            conn, task["id"], {"runtime": {"host": "gpu-box", "original": first}}
        )["runtime"]
        assert changed["host"] == "gpu-box"
        assert changed["original"] == {**first, "original": None}
        assert get_task(conn, task["id"])["runtime"] == changed


def test_a_task_cannot_be_its_own_parent(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project="p")
        with pytest.raises(InvalidInput, match="own parent"):
            update_task(conn, task["id"], {"parent": task["id"]})


def test_unknown_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(NotFound):
            get_task(conn, "0" * 32)
        with pytest.raises(NotFound):
            update_task(conn, "0" * 32, {"name": "x"})

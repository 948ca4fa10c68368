"""DVCLive events recorded in the store, on SQLite and PostgreSQL: the experiment found again
by name and baseline commit, a linked repository's project chosen, resent points dropped."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import OPEN
from tunelab.server.dvc_live import LiveEvent, project_for, record
from tunelab.store import repositories, scalars, tasks
from tunelab.store.projects import ensure_project

SHA = "89abcdef0123456789abcdef0123456789abcdef"


def _event(kind: str, name: str = "swift-owl", **fields: Any) -> LiveEvent:
    given: dict[str, Any] = {
        "step": None,
        "message": "",
        "metrics": {},
        "params": {},
        "plots": {},
        "errors": [],
        **fields,
    }
    return LiveEvent(
        type=kind, repo_url="git@example.com:ml/vision.git", baseline_sha=SHA, name=name, **given
    )


def test_events_of_one_experiment_land_on_one_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        started = record(conn, OPEN, _event("start"))
        assert record(conn, OPEN, _event("start"))["task_id"] == started["task_id"]
        data = {"metrics": {"m.json": {"data": {"val": {"f1": 0.5}, "loss": "nan"}}}}
        record(conn, OPEN, _event("data", step=4, params={"p.yaml": {"opt": {"lr": 1}}}, **data))
        record(conn, OPEN, _event("data", step=4, **data))
        done = record(conn, OPEN, _event("done"))
        task = tasks.get_task(conn, started["task_id"])
        read = scalars.read_summaries(conn, [started["task_id"]])[started["task_id"]]
    assert done == {"task_id": started["task_id"], "status": "completed"}
    assert task["project"]["name"] == "vision" and task["status"] == "completed"
    assert task["hyperparameters"]["DVC"]["opt.lr"]["type"] == "int"
    assert read["val"]["f1"].count == 1 and read["val"]["f1"].last_iter == 4
    assert read["loss"]["loss"].count == 1 and read["loss"]["loss"].last is None  # NaN


def test_a_linked_repository_picks_its_project(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project_id = ensure_project(conn, "vision/linked")
        repositories.set_repository(conn, project_id, "git@example.com:ml/vision", "main")
        assert project_for(conn, "git@example.com:ml/vision.git/") == "vision/linked"
        started = record(conn, OPEN, _event("start", name="linked-run"))
        assert tasks.get_task(conn, started["task_id"])["project"]["name"] == "vision/linked"
        assert project_for(conn, "https://example.com/other/thing.git") == "thing"

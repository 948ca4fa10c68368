"""A launcher's jobs in the store, on SQLite and PostgreSQL: registering again keeps the
tasks it names as jobs (and fails the others), and the Workers page lists each launcher's
running tasks with their jobs, of the projects the account may see."""

from __future__ import annotations

import sqlalchemy as sa

from tunelab.store import lifecycle, workers
from tunelab.store.projects import ensure_project
from tunelab.store.tasks import create_task, get_task, update_task


def _taken(conn: sa.Connection, worker: str, project: str = "launched") -> str:
    task_id = str(create_task(conn, name="t", project=project)["id"])
    lifecycle.enqueue(conn, task_id, "slurm-q")
    taken = workers.take_next(conn, worker)
    assert taken is not None and taken["id"] == task_id
    return task_id


def test_a_launcher_registering_again_keeps_its_jobs(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "login:slurm:q", ["slurm-q"])
        kept, other = _taken(conn, "login:slurm:q"), _taken(conn, "login:slurm:q")
        launch = {"backend": "slurm", "job_id": "7", "state": "RUNNING"}
        update_task(conn, kept, {"launch": launch})
        workers.register(conn, "login:slurm:q", ["slurm-q"], jobs=[kept])
        assert get_task(conn, kept)["status"] == "running"
        assert (get_task(conn, other)["status"], get_task(conn, other)["status_reason"]) == (
            "failed",
            workers.RESTARTED,
        )
        jobs = workers.launched_jobs(conn)["login:slurm:q"]
        assert [(job["id"], job["launch"]["job_id"]) for job in jobs] == [(kept, "7")]
        hidden = _taken(conn, "login:slurm:q", project="secret")
        update_task(conn, hidden, {"launch": {**launch, "job_id": "8"}})
        visible = (ensure_project(conn, "launched"),)
        seen = workers.launched_jobs(conn, visible)["login:slurm:q"]
        assert [job["id"] for job in seen] == [kept]

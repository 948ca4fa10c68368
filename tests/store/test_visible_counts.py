"""Queues and workers are shared by every project; given the projects an account may see,
their lists count and name only those projects' tasks."""

from __future__ import annotations

import sqlalchemy as sa

from tunelab.store import lifecycle, queues, workers
from tunelab.store.schema import tasks
from tunelab.store.tasks import create_task


def _enqueued(conn: sa.Connection, project: str, queue: str) -> dict[str, str]:
    task = create_task(conn, name="t", project=project)
    lifecycle.enqueue(conn, task["id"], queue)
    project_id = conn.execute(sa.select(tasks.c.project_id).where(tasks.c.id == task["id"]))
    return {"id": task["id"], "project_id": project_id.scalar_one()}


def test_queue_lengths_and_worker_tasks_follow_visibility(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        a = [_enqueued(conn, "vis-a", "shared") for _ in range(2)]
        b = _enqueued(conn, "vis-b", "shared")
        running = _enqueued(conn, "vis-b", "run")
        workers.register(conn, "w", ["run"], host="h")
        assert workers.take_next(conn, "w")["id"] == running["id"]

        def lengths(visible: tuple[str, ...] | None) -> dict[str, int]:
            return {q["name"]: q["length"] for q in queues.list_queues(conn, visible)}

        assert lengths(None)["shared"] == 3
        assert lengths((a[0]["project_id"],))["shared"] == 2
        assert lengths((b["project_id"],))["shared"] == 1
        assert lengths(())["shared"] == 0

        def worker(visible: tuple[str, ...] | None) -> dict[str, object]:
            (found,) = workers.list_workers(conn, visible)
            return {"task_id": found["task_id"], "busy": found["busy"]}

        assert worker(None) == {"task_id": running["id"], "busy": True}
        assert worker((b["project_id"],)) == {"task_id": running["id"], "busy": True}
        assert worker((a[0]["project_id"],)) == {"task_id": None, "busy": True}
        assert worker(()) == {"task_id": None, "busy": True}

"""Times are epoch seconds between 1970 and the end of year 9999: the API refuses any other
(400), and a page shows a stored time it cannot render as invalid rather than failing."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.server.access_world import scalar_batch
from tests.server.answers import ok
from tests.services import ServerProcess
from tunelab.store.schema import console_lines, projects, task_metrics, tasks

NOW = time.time()
# Times the API must refuse: past year 9999, before 1970, and far outside any calendar.
OUT_OF_RANGE = (1e300, 253402300800.0, -1.0, -1e300)


@pytest.mark.parametrize("field", ["started", "completed"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_task_times_out_of_range_are_refused(
    client: httpx.Client, field: str, value: float
) -> None:
    task = ok(client.post("/tasks", json={"name": "times", "project": "time-bounds"}), 201)
    answer = client.patch(f"/tasks/{task['id']}", json={field: value})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"
    assert ok(client.get(f"/tasks/{task['id']}"))[field] is None
    assert ok(client.patch(f"/tasks/{task['id']}", json={field: NOW}))[field] == NOW


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_console_times_out_of_range_are_refused(client: httpx.Client, value: float) -> None:
    task = ok(client.post("/tasks", json={"name": "lines", "project": "time-bounds"}), 201)
    line = {"stream": "stdout", "text": "hello", "ts": value}
    answer = client.post(f"/tasks/{task['id']}/console", json={"lines": [line]})
    assert answer.status_code == 400, answer.text
    assert ok(client.get(f"/tasks/{task['id']}/console"))["lines"] == []


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_scalar_times_out_of_range_are_refused(client: httpx.Client, value: float) -> None:
    task = ok(client.post("/tasks", json={"name": "points", "project": "time-bounds"}), 201)
    batch = {
        "series": [
            {
                "metric": "loss",
                "variant": "train",
                "iterations": [0, 1],
                "values": [1.0, 0.5],
                "timestamps": [NOW, value],
            }
        ]
    }
    answer = client.post(f"/tasks/{task['id']}/scalars", json=batch)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"


# --- pages on stored times they cannot render --------------------------------------------

# What another program (or an older server) may have left in the store.
BAD_TIMES: tuple[float, ...] = (1e300, -1e300, 1e20, math.inf, -math.inf)


def _pages(project_id: str, task_ids: list[str]) -> list[str]:
    one = task_ids[0]
    experiment = f"/experiments/{one}"
    return [
        "/",
        "/projects",
        "/experiments",
        f"/projects/{project_id}",
        f"/projects/{project_id}?sort=started",
        f"/projects/{project_id}?sort=-last_update",
        f"/compare?ids={','.join(task_ids)}",
        experiment,
        f"{experiment}/info",
        f"{experiment}/console",
        f"{experiment}/execution",
        f"{experiment}/scalars",
        f"{experiment}/scalars/summary",
        f"{experiment}/hyperparameters",
        f"{experiment}/artifacts",
        f"{experiment}/plots",
        f"{experiment}/status",
    ]


def _server_on(engine: sa.Engine, tmp_path: Path) -> ServerProcess:
    url = engine.url.render_as_string(hide_password=False)
    return ServerProcess(tmp_path / "server", database_url=url)


def test_pages_show_stored_times_they_cannot_render(engine: sa.Engine, tmp_path: Path) -> None:
    server = _server_on(engine, tmp_path)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60, follow_redirects=True) as http:
            made: list[dict[str, Any]] = []
            for n in range(len(BAD_TIMES)):
                body = {"name": f"bad times {n}", "project": "bad-times"}
                task = ok(http.post("/api/v1/tasks", json=body), 201)
                ok(http.post(f"/api/v1/tasks/{task['id']}/scalars", json=scalar_batch("loss")))
                line = {"stream": "stdout", "text": "a line", "ts": NOW}
                ok(http.post(f"/api/v1/tasks/{task['id']}/console", json={"lines": [line]}))
                made.append(task)
            ids = [task["id"] for task in made]
            _write_bad_times(engine, ids)
            with engine.connect() as conn:
                query = sa.select(projects.c.id).where(projects.c.name == "bad-times")
                project_id = str(conn.execute(query).scalar_one())
            failed = {}
            for page in _pages(project_id, ids):
                answer = http.get(page)
                if answer.status_code != 200:
                    failed[page] = answer.status_code
            assert not failed, (failed, server.log_path.read_text()[-3000:])
            info = http.get(f"/experiments/{ids[0]}/info").text
            assert "invalid" in info
    finally:
        server.stop()


def _write_bad_times(engine: sa.Engine, ids: list[str]) -> None:
    """Every time column of the tasks, their console lines, metric summaries and project
    set, straight in the store, one bad value per task."""
    with engine.begin() as conn:
        for task_id, bad in zip(ids, BAD_TIMES, strict=True):
            conn.execute(
                tasks.update()
                .where(tasks.c.id == task_id)
                .values(created=bad, started=bad, completed=-bad, last_update=bad)
            )
            conn.execute(
                console_lines.update().where(console_lines.c.task_id == task_id).values(ts=bad)
            )
            conn.execute(
                task_metrics.update()
                .where(task_metrics.c.task_id == task_id)
                .values(last_time=bad, last=bad)
            )
        project = sa.select(tasks.c.project_id).where(tasks.c.id == ids[0]).scalar_subquery()
        conn.execute(
            projects.update()
            .where(projects.c.id == project)
            .values(created=BAD_TIMES[0], last_update=BAD_TIMES[0])
        )

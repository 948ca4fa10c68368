"""Signs of life of running tasks on SQLite and PostgreSQL: what counts as activity, who is
failed for silence (never an agent's task, never a live or ended one), unanswered stops, all
on the database's clock."""

from __future__ import annotations

import time

import numpy as np
import sqlalchemy as sa

from tunelab.server import maintenance
from tunelab.store import lifecycle, task_activity, workers
from tunelab.store.console import ConsoleLine, append_lines
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch
from tunelab.store.schema import tasks
from tunelab.store.tasks import create_task, get_task, update_task


def _running(conn: sa.Connection, name: str) -> str:
    task_id: str = create_task(conn, name=name, project="alive", status="running")["id"]
    return task_id


def _age(conn: sa.Connection, task_id: str, seconds: float) -> None:
    """As if the task's last sign of life (and stop request) came ``seconds`` earlier."""
    conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id)
        .values(
            last_active=sa.func.coalesce(tasks.c.last_active, tasks.c.started) - seconds,
            stop_requested_at=tasks.c.stop_requested_at - seconds,
        )
    )


def _last_active(conn: sa.Connection, task_id: str) -> float:
    value = conn.execute(sa.select(tasks.c.last_active).where(tasks.c.id == task_id)).scalar()
    assert value is not None
    return float(value)


def test_the_database_clock_is_epoch_seconds(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        clock = conn.execute(sa.select(task_activity.database_now(conn))).scalar_one()
    assert abs(clock - time.time()) < 5


def test_a_silent_run_without_a_worker_fails_and_others_are_left_alone(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        silent = _running(conn, "silent")
        pinged = _running(conn, "pinged")
        ended = _running(conn, "ended")
        on_agent = create_task(conn, name="agent's", project="alive")["id"]
        workers.register(conn, "gpu:0", ["default"])
        lifecycle.enqueue(conn, on_agent)
        assert workers.take_next(conn, "gpu:0")["id"] == on_agent
        for task_id in (silent, pinged, ended, on_agent):
            _age(conn, task_id, 100)
        update_task(conn, ended, {"status": "completed"})
        answer = task_activity.touch(conn, pinged)
        assert answer == {"status": "running", "stop_requested": False}

        assert task_activity.fail_silent(conn, timeout=50) == [silent]
        assert task_activity.fail_silent(conn, timeout=50) == []  # once
        failed = get_task(conn, silent)
        assert (failed["status"], failed["status_reason"]) == (
            "failed",
            "no activity: the process was lost",
        )
        assert failed["completed"] is not None
        assert get_task(conn, pinged)["status"] == "running"
        assert get_task(conn, ended)["status"] == "completed"
        assert get_task(conn, on_agent)["status"] == "running"  # the worker-lost rule's


def test_points_console_lines_and_pings_count_as_activity(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = _running(conn, "busy")
        _age(conn, task_id, 100)
        before = _last_active(conn, task_id)
        ingest_batch(
            conn,
            task_id,
            ScalarBatch(
                series=[
                    SeriesPoints(
                        "m",
                        "v",
                        np.array([1], dtype=np.int64),
                        np.array([1.0]),
                        np.array([1.0]),
                    )
                ],
                batch_id="a",
            ),
        )
        after_points = _last_active(conn, task_id)
        assert after_points > before + 50
        _age(conn, task_id, 100)
        append_lines(conn, task_id, [ConsoleLine(stream="stdout", text="hi", ts=1.0)])
        assert _last_active(conn, task_id) > after_points - 50
        assert task_activity.fail_silent(conn, timeout=50) == []


def test_a_stop_nobody_answers_ends_the_task_stopped_after_the_grace(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = _running(conn, "deaf")
        answered = _running(conn, "answered")
        lifecycle.stop(conn, task_id, "from the page")
        lifecycle.stop(conn, answered)
        assert task_activity.stop_unanswered(conn, grace=60) == []  # asked just now
        assert task_activity.touch(conn, task_id)["stop_requested"] is True
        _age(conn, task_id, 100)
        _age(conn, answered, 100)
        update_task(conn, answered, {"status": "stopped"})  # its run answered in time

        assert task_activity.stop_unanswered(conn, grace=60) == [task_id]
        stopped = get_task(conn, task_id)
        assert stopped["status"] == "stopped"
        assert stopped["status_reason"] == "stopped: nobody answered the stop request"
        assert stopped["stop_requested"] is False
        assert lifecycle.reset(conn, task_id).task["status"] == "draft"


def test_a_second_stop_does_not_restart_the_grace(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = _running(conn, "asked twice")
        lifecycle.stop(conn, task_id)
        _age(conn, task_id, 100)
        lifecycle.stop(conn, task_id)
        assert task_activity.stop_unanswered(conn, grace=60) == [task_id]


def test_a_server_just_started_gives_runs_the_timeout_to_reach_it(engine: sa.Engine) -> None:
    # Runs could neither send nor see a stop while the server was down.
    with engine.begin() as conn:
        silent = _running(conn, "silent through the outage")
        asked = _running(conn, "asked before the outage")
        lifecycle.stop(conn, asked)
        _age(conn, silent, 100)
        _age(conn, asked, 100)
        task_activity.touch(conn, asked)  # alive, but deaf to the stop
    assert maintenance.end_lost_runs(engine, task_timeout=50, stop_grace=60, uptime=10) == []
    assert maintenance.end_lost_runs(engine, 50, 60, uptime=55) == [silent]
    assert maintenance.end_lost_runs(engine, 50, 60, uptime=61) == [asked]

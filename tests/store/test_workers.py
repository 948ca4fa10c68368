"""Workers on SQLite and PostgreSQL: registration, heartbeats, taking tasks exactly once
under concurrency, queue priority, and reaping the lost."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from tunelab.errors import NotFound
from tunelab.store import lifecycle, workers
from tunelab.store.schema import workers as worker_rows
from tunelab.store.tasks import create_task, get_task, update_task


def enqueued(conn: sa.Connection, name: str, queue: str = "default") -> str:
    task_id: str = create_task(conn, name=name, project="w")["id"]
    lifecycle.enqueue(conn, task_id, queue)
    return task_id


def test_register_again_updates_and_lists(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = workers.register(conn, "host:a", ["gpu"], host="host")
        assert set(first) == {
            "id",
            "queues",
            "task_id",
            "busy",
            "host",
            "registered",
            "last_heartbeat",
        }
        again = workers.register(conn, "host:a", ["cpu", "gpu", "cpu"], host="host2")
        assert (again["queues"], again["host"]) == (["cpu", "gpu"], "host2")
        assert [w["id"] for w in workers.list_workers(conn)] == ["host:a"]
        workers.unregister(conn, "host:a")
        assert workers.list_workers(conn) == []
        with pytest.raises(NotFound, match="register it"):
            workers.unregister(conn, "host:a")


def test_take_next_runs_the_first_task_on_the_worker(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w", ["default"])
        first, second = enqueued(conn, "first"), enqueued(conn, "second")
        task = workers.take_next(conn, "w")
        assert task is not None
        assert (task["id"], task["status"], task["worker"]) == (first, "running", "w")
        assert task["started"] is not None and task["queue"] == "default"
        assert workers.get_worker(conn, "w")["task_id"] == first
        taken = workers.take_next(conn, "w")
        assert taken is not None and taken["id"] == second
        assert workers.take_next(conn, "w") is None


def test_queues_are_taken_in_the_workers_order(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w", ["high", "low"])
        low = enqueued(conn, "low", "low")
        high_1 = enqueued(conn, "high-1", "high")
        high_2 = enqueued(conn, "high-2", "high")
        taken = [workers.take_next(conn, "w") for _ in range(4)]
        assert [t["id"] if t else None for t in taken] == [high_1, high_2, low, None]
        # The order a caller gives wins over the registered one.
        other = enqueued(conn, "other", "other")
        later_low = enqueued(conn, "later-low", "low")
        taken_now = workers.take_next(conn, "w", ["other", "low"])
        assert taken_now is not None and taken_now["id"] == other
        del later_low


def test_an_unknown_worker_cannot_take(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        enqueued(conn, "t")
        with pytest.raises(NotFound, match="no worker 'ghost'"):
            workers.take_next(conn, "ghost")


def test_every_task_is_taken_exactly_once_by_concurrent_workers(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        created = [enqueued(conn, f"t{i}", "race") for i in range(200)]
        for n in range(8):
            workers.register(conn, f"w{n}", ["race"])
    taken: dict[str, list[str]] = {f"w{n}": [] for n in range(8)}
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(worker_id: str) -> None:
        barrier.wait()
        try:
            while True:
                with engine.begin() as conn:  # each claim: its own connection and transaction
                    task = workers.take_next(conn, worker_id)
                if task is None:
                    return
                taken[worker_id].append(task["id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    counts = Counter(task_id for ids in taken.values() for task_id in ids)
    assert set(counts) == set(created)
    assert set(counts.values()) == {1}
    with engine.begin() as conn:
        for worker_id, ids in taken.items():
            for task_id in ids[:3]:
                task = get_task(conn, task_id)
                assert (task["status"], task["worker"]) == ("running", worker_id)
        waiting = conn.execute(sa.text("SELECT count(*) FROM queue_entries")).scalar_one()
        assert waiting == 0


def test_heartbeat_answers_the_tasks_to_stop(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w", ["default"])
        enqueued(conn, "t")
        task = workers.take_next(conn, "w")
        assert task is not None
        assert workers.heartbeat(conn, "w", task["id"]) == []
        lifecycle.stop(conn, task["id"], "enough")
        assert workers.heartbeat(conn, "w", task["id"]) == [task["id"]]
        update_task(conn, task["id"], {"status": "stopped"})
        assert workers.heartbeat(conn, "w", None) == []
        with pytest.raises(NotFound):
            workers.heartbeat(conn, "ghost")


def _silence(conn: sa.Connection, worker_id: str, seconds: float) -> None:
    conn.execute(
        worker_rows.update()
        .where(worker_rows.c.id == worker_id)
        .values(last_heartbeat=worker_rows.c.last_heartbeat - seconds)
    )


def test_reap_lost_fails_the_running_tasks_of_silent_workers(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "silent", ["default"])
        workers.register(conn, "alive", ["default"])
        lost_task = enqueued(conn, "lost")
        ended_task = enqueued(conn, "ended")
        kept_task = enqueued(conn, "kept")
        assert workers.take_next(conn, "silent")["id"] == lost_task  # type: ignore[index]
        assert workers.take_next(conn, "silent")["id"] == ended_task  # type: ignore[index]
        update_task(conn, ended_task, {"status": "completed"})
        assert workers.take_next(conn, "alive")["id"] == kept_task  # type: ignore[index]
        _silence(conn, "silent", 120)
        assert workers.reap_lost(conn, timeout=60) == [lost_task]
        lost = get_task(conn, lost_task)
        assert (lost["status"], lost["status_reason"]) == ("failed", "worker lost")
        assert lost["completed"] is not None
        assert get_task(conn, ended_task)["status"] == "completed"
        assert get_task(conn, kept_task)["status"] == "running"
        assert [w["id"] for w in workers.list_workers(conn)] == ["alive"]
        assert workers.reap_lost(conn, timeout=60) == []


def test_unregistering_fails_a_task_still_running_there(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w", ["default"])
        task_id = enqueued(conn, "t")
        workers.take_next(conn, "w")
        workers.unregister(conn, "w")
        task = get_task(conn, task_id)
        assert task["status"] == "failed" and "unregistered" in task["status_reason"]


def test_a_new_process_registering_fails_what_ran_under_its_id(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w", ["default"])
        orphan = enqueued(conn, "orphan")
        workers.take_next(conn, "w")
        workers.register(conn, "w", ["default"])  # a restarted agent: it runs nothing
        task = get_task(conn, orphan)
        assert (task["status"], task["status_reason"]) == ("failed", "worker restarted")
        assert workers.get_worker(conn, "w")["task_id"] is None


def test_registering_again_mid_task_keeps_the_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        workers.register(conn, "w", ["default"])
        kept = enqueued(conn, "kept")
        workers.take_next(conn, "w")
        again = workers.register(conn, "w", ["default"], running=kept)
        assert get_task(conn, kept)["status"] == "running"
        assert again["task_id"] == kept
        # A task id the worker does not run is not taken on as its own.
        other = enqueued(conn, "other")
        assert workers.register(conn, "w", ["default"], running=other)["task_id"] is None
        assert get_task(conn, kept)["status"] == "failed"


def test_start_registers_an_unknown_worker(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = create_task(conn, name="t", project="w")["id"]
        started = lifecycle.start(conn, task_id, "cli:execute")
        assert (started["status"], started["worker"]) == ("running", "cli:execute")
        (worker,) = workers.list_workers(conn)
        assert (worker["id"], worker["queues"], worker["task_id"]) == ("cli:execute", [], task_id)

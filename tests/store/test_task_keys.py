"""Task keys on SQLite and PostgreSQL: minted when a worker takes a task, alive while it
runs there, dead on every path that ends it; only their hash is kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from tunelab.domain.access import UserKind
from tunelab.store import lifecycle, task_keys, users, workers
from tunelab.store.auth_tokens import token_hash
from tunelab.store.schema import task_keys as key_rows
from tunelab.store.schema import workers as worker_rows
from tunelab.store.tasks import create_task, update_task


def _taken(conn: sa.Connection, worker: str = "w1") -> tuple[str, str, str]:
    """A task enqueued by a member and taken by ``worker``: its id, its key, the member's id."""
    member = users.create_user(conn, f"m-{worker}", kind=UserKind.MEMBER, password="pw pw pw 42")
    task_id: str = create_task(conn, name="keyed", project="keys")["id"]
    lifecycle.enqueue(conn, task_id, "q", by=member["id"])
    workers.register(conn, worker, ["q"])
    taken = workers.take_next(conn, worker)
    assert taken is not None and taken["id"] == task_id
    return task_id, taken["task_key"], member["id"]


def test_a_taken_task_comes_with_a_key_for_it_and_its_enqueuer(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id, key, member_id = _taken(conn)
        holder = task_keys.key_for_token(conn, key)
        assert holder is not None
        assert holder.task_id == task_id
        assert holder.owner is not None and holder.owner.id == member_id
        # Only the hash is kept.
        stored = conn.execute(sa.select(key_rows)).all()
        assert [row.token_hash for row in stored] == [token_hash(key)]
        assert key not in repr(stored)
        assert task_keys.key_for_token(conn, key + "x") is None


def _complete(conn: sa.Connection, task_id: str, worker: str) -> None:
    update_task(conn, task_id, {"status": "completed"})


def _fail(conn: sa.Connection, task_id: str, worker: str) -> None:
    update_task(conn, task_id, {"status": "failed", "status_reason": "exit code 1"})


def _stop(conn: sa.Connection, task_id: str, worker: str) -> None:
    lifecycle.stop(conn, task_id)  # asked to stop: still running, the key still works
    update_task(conn, task_id, {"status": "stopped"})  # the agent records it


def _unregister(conn: sa.Connection, task_id: str, worker: str) -> None:
    workers.unregister(conn, worker)


def _lose(conn: sa.Connection, task_id: str, worker: str) -> None:
    conn.execute(worker_rows.update().values(last_heartbeat=0.0))
    assert workers.reap_lost(conn, 60.0) == [task_id]


def _reset(conn: sa.Connection, task_id: str, worker: str) -> None:
    update_task(conn, task_id, {"status": "stopped"})
    lifecycle.reset(conn, task_id)


@pytest.mark.parametrize(
    "end",
    [_complete, _fail, _stop, _unregister, _lose, _reset],
    ids=["completed", "failed", "stopped", "worker-unregistered", "worker-lost", "reset"],
)
def test_the_key_dies_when_the_task_ends(
    engine: sa.Engine, end: Callable[[sa.Connection, str, str], None]
) -> None:
    with engine.begin() as conn:
        task_id, key, _ = _taken(conn)
        assert task_keys.key_for_token(conn, key) is not None
        end(conn, task_id, "w1")
        assert task_keys.key_for_token(conn, key) is None


def test_running_again_elsewhere_replaces_the_key(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id, first, member_id = _taken(conn)
        update_task(conn, task_id, {"status": "stopped"})
        lifecycle.reset(conn, task_id)
        lifecycle.enqueue(conn, task_id, "q", by=member_id)
        workers.register(conn, "w2", ["q"])
        workers.unregister(conn, "w1")
        second = workers.take_next(conn, "w2")
        assert second is not None and second["id"] == task_id
        assert second["task_key"] != first
        assert task_keys.key_for_token(conn, first) is None
        holder = task_keys.key_for_token(conn, second["task_key"])
        assert holder is not None and holder.task_id == task_id
        # The first run's key is gone from the store, not only refused.
        assert conn.execute(sa.select(sa.func.count()).select_from(key_rows)).scalar() == 1


def test_started_tasks_get_a_key_too(engine: sa.Engine) -> None:
    """``tunelab agent execute --id``: a queued task keeps its enqueuer as the key's owner;
    a draft started directly gets the starter's reads."""
    with engine.begin() as conn:
        member = users.create_user(conn, "starter", kind=UserKind.MEMBER, password="pw pw pw 42")
        other = users.create_user(conn, "enq", kind=UserKind.MEMBER, password="pw pw pw 42")
        draft: str = create_task(conn, name="draft", project="keys")["id"]
        queued: str = create_task(conn, name="queued", project="keys")["id"]
        lifecycle.enqueue(conn, queued, "q", by=other["id"])
        started = lifecycle.start(conn, draft, "exec-1", member["id"], member["id"])
        holder = task_keys.key_for_token(conn, started["task_key"])
        assert holder is not None and holder.owner is not None
        assert (holder.task_id, holder.owner.id) == (draft, member["id"])
        started = lifecycle.start(conn, queued, "exec-2", member["id"], member["id"])
        holder = task_keys.key_for_token(conn, started["task_key"])
        assert holder is not None and holder.owner is not None
        assert (holder.task_id, holder.owner.id) == (queued, other["id"])


def test_a_disabled_owner_takes_the_key_down(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _, key, member_id = _taken(conn)
        users.set_disabled(conn, member_id, True)
        assert task_keys.key_for_token(conn, key) is None

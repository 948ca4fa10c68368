"""A task's status changed atomically: compare-and-set, with a Conflict that names the status.

``UPDATE tasks SET status = :new ... WHERE id = :id AND status = :expected``: of two
concurrent changes one wins; the other updates no row, reads the status again and raises a
Conflict naming it. No lock is held between a caller's read and this write, and nothing lives
in the process, so the same holds with several server replicas on one PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunelab.domain.lifecycle import ACTIONS, require_action
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, NotFound
from tunelab.store.lookup import now
from tunelab.store.schema import tasks
from tunelab.store.task_activity import database_now

S = TaskStatus
# Reaching one of these stamps ``completed``; published keeps the time it completed.
ENDING = frozenset({S.COMPLETED, S.FAILED, S.STOPPED})


def read_state(conn: sa.Connection, task_id: str) -> sa.Row[Any]:
    """The task's row (without locking it), or NotFound."""
    row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return row


def change_status(
    conn: sa.Connection,
    task_id: str,
    action: str,
    expected: TaskStatus,
    new: TaskStatus,
    **values: Any,
) -> None:
    """Set ``new`` (and ``values``) only if the status is still ``expected``.

    Stamps ``last_update``; ``started`` on first running; ``completed`` on an ending status.
    """
    stamp = now()
    stamps: dict[str, Any] = {"status": new.value, "last_update": stamp}
    if new is S.RUNNING:
        stamps["started"] = sa.func.coalesce(tasks.c.started, stamp)
        stamps["last_active"] = database_now(conn)
    if new in ENDING:
        stamps["completed"] = stamp
    updated = conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id, tasks.c.status == expected.value)
        .values(**{**stamps, **values})
    )
    if updated.rowcount != 1:
        raise_changed(conn, task_id, action, expected)


def raise_changed(conn: sa.Connection, task_id: str, action: str, expected: TaskStatus) -> None:
    """The compare-and-set found another status: say which, and why it refuses ``action``."""
    row = read_state(conn, task_id)
    current = S(row.status)
    if action in ACTIONS:
        require_action(action, current, archived=bool(row.archived))
    raise Conflict(
        f"cannot {action} the task: it became {current.value} (from {expected.value}) "
        "meanwhile; try again",
        {"status": current.value},
    )

"""Signs of life of running tasks, and the end of runs that nobody runs any more.

A run started on someone's machine (``Task.init`` without an agent) has no worker whose
heartbeat the server watches: if its process is killed (SIGKILL, a machine that loses
power), nothing ever reports its end. So every batch it sends and every ping its SDK sends
when idle stamps ``tasks.last_active``; the server's upkeep fails a running task without a
worker that stayed silent past the task timeout (agents' tasks keep the worker-lost rule),
and ends as ``stopped`` a running task whose stop request nobody answered within the grace
period.

Stamps and comparisons use the database's clock, never the server process's, so several
replicas on one PostgreSQL agree on who is silent. Each end is one compare-and-set on the
status: a run that reports its end meanwhile keeps its own status.

Example::

    touch(conn, task_id)                     # a ping: answers the task's stop request
    fail_silent(conn, timeout=600.0)         # ids of the runs failed "no activity"
    stop_unanswered(conn, grace=60.0)        # ids of the runs ended "stopped"
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunelab.domain.task import TaskStatus
from tunelab.errors import NotFound
from tunelab.store.schema import tasks

S = TaskStatus
NO_ACTIVITY = "no activity: the process was lost"
STOP_UNANSWERED = "stopped: nobody answered the stop request"


def database_now(conn: sa.Connection) -> sa.ColumnElement[Any]:
    """The database server's current time as float seconds since the epoch (UTC)."""
    return dialect_now(conn.dialect.name)


def dialect_now(dialect: str) -> sa.ColumnElement[Any]:
    """``database_now`` by dialect name, for statements built once per dialect."""
    if dialect == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float(53))
    return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float(53))


def touch(conn: sa.Connection, task_id: str) -> dict[str, Any]:
    """The run ``task_id`` is alive; answers its ``status`` and ``stop_requested``."""
    row = conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id)
        .values(last_active=database_now(conn))
        .returning(tasks.c.status, tasks.c.stop_requested)
    ).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return {"status": row.status, "stop_requested": bool(row.stop_requested)}


def fail_silent(conn: sa.Connection, timeout: float) -> list[str]:
    """Fail the running tasks without a worker that showed no sign of life for more than
    ``timeout`` seconds; answers their ids."""
    clock = database_now(conn)
    silent_since = sa.func.coalesce(tasks.c.last_active, tasks.c.started, tasks.c.created)
    return _end(
        conn,
        sa.and_(tasks.c.worker_id.is_(None), silent_since < clock - timeout),
        S.FAILED,
        NO_ACTIVITY,
    )


def stop_unanswered(conn: sa.Connection, grace: float) -> list[str]:
    """End as ``stopped`` the running tasks asked to stop more than ``grace`` seconds ago
    that are still running (nobody answered); answers their ids."""
    clock = database_now(conn)
    return _end(
        conn,
        sa.and_(
            tasks.c.stop_requested == sa.true(),
            tasks.c.stop_requested_at.is_not(None),
            tasks.c.stop_requested_at < clock - grace,
        ),
        S.STOPPED,
        STOP_UNANSWERED,
    )


def _end(
    conn: sa.Connection, condition: sa.ColumnElement[bool], status: TaskStatus, reason: str
) -> list[str]:
    # The condition is evaluated again on a row another transaction just touched
    # (PostgreSQL), so a run that pinged or ended meanwhile is left alone.
    clock = database_now(conn)
    ended = conn.execute(
        tasks.update()
        .where(tasks.c.status == S.RUNNING.value, condition)
        .values(
            status=status.value,
            status_reason=reason,
            completed=clock,
            last_update=clock,
            stop_requested=False,
        )
        .returning(tasks.c.id)
    )
    return sorted(ended.scalars())

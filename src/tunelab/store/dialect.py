"""Where SQLite and PostgreSQL differ: INSERT .. ON CONFLICT, and claiming queued work.

Every other store module writes portable SQLAlchemy Core and comes here for these two.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tunelab.domain.task import TaskStatus
from tunelab.store.schema import queue_entries, tasks


def dialect_insert(conn: sa.Connection, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ON CONFLICT for this connection's dialect."""
    return on_conflict_insert(conn.dialect.name, table)


def on_conflict_insert(dialect: str, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """The same, by dialect name, for statements built once and cached per dialect."""
    if dialect == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def lock_first_queued(conn: sa.Connection, queue_id: str) -> str | None:
    """The id of the task first in line in ``queue_id``, held for this transaction; or None.

    PostgreSQL: ``FOR UPDATE OF queue_entries, tasks SKIP LOCKED``. A row that another
    claimer, a dequeue or a stop holds is passed over rather than waited for, so concurrent
    claimers each get a different task and never wait on one another (nor deadlock with a
    dequeue, which locks the task and then the entry). The status test is evaluated again on
    the latest row version, so a task dequeued meanwhile is not returned.

    SQLite has no row locks: the engine opens every transaction with BEGIN IMMEDIATE, so the
    caller already holds the database's one write lock and nobody else can claim until it
    commits.
    """
    qe = queue_entries.c
    query = (
        sa.select(qe.task_id)
        .join(tasks, tasks.c.id == qe.task_id)
        .where(qe.queue_id == queue_id, tasks.c.status == TaskStatus.QUEUED.value)
        .order_by(qe.position, qe.added, qe.task_id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=[queue_entries, tasks])
    task_id: str | None = conn.execute(query).scalar_one_or_none()
    return task_id

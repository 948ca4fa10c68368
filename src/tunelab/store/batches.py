"""Batch ids already ingested, so a batch a client retries is stored once.

Scalar and console batches share ``ingested_batches``; each module prefixes its ids
(``scalars.SCALAR_BATCH_PREFIX``, ``console.CONSOLE_BATCH_PREFIX``) so that a scalar batch and
a console batch carrying the same id do not shadow each other.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from tunelab.store.dialect import on_conflict_insert
from tunelab.store.lookup import now
from tunelab.store.schema import ingested_batches


def claim_batch(conn: sa.Connection, task_id: str, key: str) -> bool:
    """Record ``key`` as ingested for the task; False when it already was.

    ON CONFLICT DO NOTHING makes two racing requests safe: on PostgreSQL the second waits for
    the first to commit and then inserts nothing; on SQLite writers are serialised anyway.
    """
    stmt = _claim(conn.dialect.name)
    row = conn.execute(stmt, {"task_id": task_id, "batch_id": key, "created": now()}).first()
    return row is not None


def forget_batches(conn: sa.Connection, task_id: str) -> None:
    """Forget every batch id of the task (a reset task starts over)."""
    conn.execute(ingested_batches.delete().where(ingested_batches.c.task_id == task_id))


@functools.cache  # built once per dialect: every ingest request claims its batch id
def _claim(dialect: str) -> sa.Insert:
    return (
        on_conflict_insert(dialect, ingested_batches)
        .on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports -1 for a row count here.
        .returning(ingested_batches.c.batch_id)
    )

"""A task's console: lines appended as the run prints them, read back as a live tail.

A line's ``seq`` is its row id, so ``after=SEQ`` reads exactly the lines not seen yet.

Example::

    append_lines(conn, task_id, [ConsoleLine("stdout", "epoch 1", 1.0)], batch_id="b1")
    page = read_lines(conn, task_id, after=0, limit=1000)   # page.lines, page.next
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store.batches import claim_batch
from tunelab.store.lookup import now
from tunelab.store.scalars import IngestResult
from tunelab.store.schema import console_lines, ingested_batches, tasks
from tunelab.store.task_activity import database_now

STREAMS = ("stdout", "stderr", "log")
# Scalar and console batch ids share a table; see scalars.SCALAR_BATCH_PREFIX.
CONSOLE_BATCH_PREFIX = "c:"


@dataclass(frozen=True)
class ConsoleLine:
    stream: str
    text: str
    # None: stamped with the server's clock on arrival.
    ts: float | None = None


@dataclass(frozen=True)
class StoredLine:
    seq: int
    stream: str
    text: str
    ts: float


@dataclass(frozen=True)
class ConsolePage:
    lines: list[StoredLine]
    # The ``after`` to pass next time: the last line's seq, or the given ``after`` if none.
    next: int


def append_lines(
    conn: sa.Connection,
    task_id: str,
    lines: Sequence[ConsoleLine],
    batch_id: str | None = None,
) -> IngestResult:
    """Store ``lines`` in order; a ``batch_id`` seen before stores nothing (``duplicate``)."""
    for line in lines:
        if line.stream not in STREAMS:
            raise InvalidInput(f"console stream must be one of {', '.join(STREAMS)}")
    if batch_id is not None and not _claim(conn, task_id, batch_id):
        return IngestResult(stored=0, duplicate=True)
    stamp = now()
    # Updating the task row first also locks it, so on PostgreSQL two appenders for one task
    # take their seqs (sequence values) one after the other, in commit order: a reader that
    # saw seq N never later finds a line below N that committed after it.
    touched = conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id)
        .values(last_update=stamp, last_active=database_now(conn))
    )
    if touched.rowcount == 0:
        raise NotFound(f"no task with id {task_id!r}")
    if lines:
        conn.execute(
            console_lines.insert(),
            [
                {
                    "task_id": task_id,
                    "stream": line.stream,
                    "text": _storable(line.text),
                    "ts": stamp if line.ts is None else line.ts,
                }
                for line in lines
            ],
        )
    return IngestResult(stored=len(lines), duplicate=False)


def _claim(conn: sa.Connection, task_id: str, batch_id: str) -> bool:
    exists = conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task_id)).first()
    if exists is None:
        raise NotFound(f"no task with id {task_id!r}")
    return claim_batch(conn, task_id, CONSOLE_BATCH_PREFIX + batch_id)


def _storable(text: str) -> str:
    """Program output may hold NUL or unpaired surrogates, which PostgreSQL text (and UTF-8)
    cannot store; replace them rather than lose the whole batch."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def read_lines(
    conn: sa.Connection,
    task_id: str,
    after: int = 0,
    limit: int = 1000,
    search: str | None = None,
) -> ConsolePage:
    """Up to ``limit`` lines with seq > ``after``, oldest first; ``search`` keeps only lines
    containing that text, ignoring case (ASCII case on SQLite)."""
    c = console_lines.c
    query = (
        sa.select(c.id, c.stream, c.text, c.ts)
        .where(c.task_id == task_id, c.id > after)
        .order_by(c.id)
        .limit(limit)
    )
    if search:
        query = query.where(c.text.icontains(search, autoescape=True))
    lines = [
        StoredLine(seq=r.id, stream=r.stream, text=r.text, ts=r.ts) for r in conn.execute(query)
    ]
    return ConsolePage(lines=lines, next=lines[-1].seq if lines else after)


def delete_console(conn: sa.Connection, task_id: str) -> None:
    """Forget a task's console and console batch ids (a reset task starts over)."""
    conn.execute(console_lines.delete().where(console_lines.c.task_id == task_id))
    conn.execute(
        ingested_batches.delete().where(
            ingested_batches.c.task_id == task_id,
            ingested_batches.c.batch_id.startswith(CONSOLE_BATCH_PREFIX, autoescape=True),
        )
    )

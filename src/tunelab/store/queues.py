"""Queues: named lines of queued tasks, taken in order by the workers that serve them.

A task waits in at most one queue (one ``queue_entries`` row); the smallest ``position`` is
first in line. Enqueueing appends (max + 1); moving renumbers the queue 1..n. Changing a
task's status is ``store.lifecycle``'s; this module only keeps the lines.

Example::

    queue_id = ensure_queue(conn, "gpu")
    add_entry(conn, queue_id, task_id)
    list_entries(conn, "gpu")          # [{"task": TaskSummary, "position": 1, "added": ...}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa

from tunelab.domain.path_names import SEGMENT_RULE, is_segment_name
from tunelab.errors import InvalidInput, NotFound
from tunelab.store.dialect import dialect_insert
from tunelab.store.lookup import new_id, now, visible_only
from tunelab.store.schema import queue_entries, queues, tasks, workers
from tunelab.store.tasks import SUMMARY_COLUMNS, summaries

DEFAULT_QUEUE = "default"
MAX_NAME_LENGTH = 256
# The PostgreSQL notification channel of enqueues: every server replica listens on it to
# wake its workers' long polls (``server.pg_notify``).
WORK_CHANNEL = "tunelab_work"

MoveTo = Literal["top", "bottom", "before"]


def validate_name(name: Any) -> str:
    """``name`` if it can name a queue: it appears in URL paths, so no "/"."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"a queue name must be 1 to {MAX_NAME_LENGTH} characters")
    if not is_segment_name(name) or name != name.strip():
        raise InvalidInput(
            f"invalid queue name {name!r}: it appears in URLs, so it is {SEGMENT_RULE}, "
            "with no spaces around it"
        )
    return name


def ensure_queue(conn: sa.Connection, name: str) -> str:
    """The id of the queue ``name``, created if missing."""
    queue_id, _created = _ensure(conn, validate_name(name))
    return queue_id


def create_queue(conn: sa.Connection, name: str) -> tuple[dict[str, Any], bool]:
    """The queue ``name`` and whether this call created it."""
    queue_id, created = _ensure(conn, validate_name(name))
    (queue,) = [q for q in list_queues(conn) if q["id"] == queue_id]
    return queue, created


def _ensure(conn: sa.Connection, name: str) -> tuple[str, bool]:
    found = conn.execute(sa.select(queues.c.id).where(queues.c.name == name)).scalar()
    if found is not None:
        return found, False
    # ON CONFLICT: two requests creating the same queue at once both end up with the one row.
    inserted = conn.execute(
        dialect_insert(conn, queues)
        .values(id=new_id(), name=name, created=now())
        .on_conflict_do_nothing(index_elements=[queues.c.name])
        .returning(queues.c.id)
    ).scalar()
    if inserted is not None:
        return inserted, True
    return conn.execute(sa.select(queues.c.id).where(queues.c.name == name)).scalar_one(), False


def queue_id_by_name(conn: sa.Connection, name: str) -> str:
    found = conn.execute(sa.select(queues.c.id).where(queues.c.name == name)).scalar()
    if found is None:
        raise NotFound(f"no queue named {name!r}")
    queue_id: str = found
    return queue_id


def list_queues(conn: sa.Connection, visible: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every queue by name, with its length and the workers serving it; the length counts
    only the tasks of the projects ``visible`` (ids) when given: a queue is shared, how much
    another project has waiting in it is not.

    ``default`` is there from the start (migration 0003); it is ensured here too, so a store
    emptied by hand still shows it.
    """
    ensure_queue(conn, DEFAULT_QUEUE)
    counted = sa.select(queue_entries.c.queue_id, sa.func.count()).group_by(
        queue_entries.c.queue_id
    )
    if visible is not None:
        counted = counted.join(tasks, tasks.c.id == queue_entries.c.task_id).where(
            *visible_only(tasks.c.project_id, visible)
        )
    lengths: dict[str, int] = dict(conn.execute(counted).all())
    serving: dict[str, list[str]] = {}
    # Workers are few and their queue lists are JSON: matched here rather than in SQL,
    # where the two dialects spell JSON containment differently.
    for worker_id, names in conn.execute(sa.select(workers.c.id, workers.c.queues)):
        for name in names:
            serving.setdefault(name, []).append(worker_id)
    return [
        {
            "id": row.id,
            "name": row.name,
            "created": row.created,
            "length": lengths.get(row.id, 0),
            "workers": sorted(serving.get(row.name, [])),
        }
        for row in conn.execute(sa.select(queues).order_by(queues.c.name))
    ]


def unserved_warning(conn: sa.Connection, name: str) -> str:
    """``"no worker serves queue NAME"`` when no registered worker serves ``name`` (what is
    enqueued there waits until an agent serves it: often a typo in the name); else ``""``."""
    for (served,) in conn.execute(sa.select(workers.c.queues)):
        if name in served:
            return ""
    return f"no worker serves queue {name}"


def list_entries(
    conn: sa.Connection, name: str, visible: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The queue's waiting tasks in the order they will be taken; only those in the
    projects ``visible`` (ids) when given: a queue is shared, what waits in it is not."""
    queue_id = queue_id_by_name(conn, name)
    qe = queue_entries.c
    query: sa.Select[Any] = (
        sa.select(*SUMMARY_COLUMNS, qe.position, qe.added)
        .join(queue_entries, qe.task_id == tasks.c.id)
        .where(qe.queue_id == queue_id)
        .order_by(*_LINE_ORDER)
    )
    query = query.where(*visible_only(tasks.c.project_id, visible))
    rows = list(conn.execute(query))
    return [
        {"task": summary, "position": row.position, "added": row.added}
        for summary, row in zip(summaries(conn, rows), rows, strict=True)
    ]


# First in line first; entries enqueued in the same instant keep a stable order.
_LINE_ORDER = (queue_entries.c.position, queue_entries.c.added, queue_entries.c.task_id)


def add_entry(conn: sa.Connection, queue_id: str, task_id: str, by: str | None = None) -> None:
    """Put the task at the end of the queue; ``by``: the id of the account enqueueing it."""
    _lock(conn, queue_id)
    last = conn.execute(
        sa.select(sa.func.max(queue_entries.c.position)).where(queue_entries.c.queue_id == queue_id)
    ).scalar()
    conn.execute(
        queue_entries.insert().values(
            task_id=task_id,
            queue_id=queue_id,
            position=(last or 0) + 1,
            added=now(),
            enqueued_by=by,
        )
    )
    _announce_work(conn, queue_id)


def _announce_work(conn: sa.Connection, queue_id: str) -> None:
    # PostgreSQL delivers a notification (its payload: the queue's name) when the
    # transaction commits, to the listener of every server replica, and drops it on a
    # rollback; the same one sent twice in a transaction (a bulk enqueue) is delivered once.
    # On SQLite the server is the only process writing, and its routes wake the polls
    # themselves after their commit.
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.select(sa.func.pg_notify(WORK_CHANNEL, queues.c.name)).where(queues.c.id == queue_id)
        )


def remove_entry(conn: sa.Connection, task_id: str) -> None:
    conn.execute(queue_entries.delete().where(queue_entries.c.task_id == task_id))


def enqueued_by(conn: sa.Connection, task_id: str) -> str | None:
    """The id of the account that put the waiting task in its queue, if known."""
    found: str | None = conn.execute(
        sa.select(queue_entries.c.enqueued_by).where(queue_entries.c.task_id == task_id)
    ).scalar()
    return found


def entry_queue(conn: sa.Connection, task_id: str) -> str | None:
    """The name of the queue the task waits in, or None."""
    name: str | None = conn.execute(
        sa.select(queues.c.name)
        .join(queue_entries, queue_entries.c.queue_id == queues.c.id)
        .where(queue_entries.c.task_id == task_id)
    ).scalar()
    return name


def move_entry(
    conn: sa.Connection,
    name: str,
    task_id: str,
    to: MoveTo,
    before: str | None = None,
    visible: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Move a waiting task to the top, the bottom, or just before another waiting task;
    answers the queue's entries (in ``visible`` projects) in their new order."""
    queue_id = queue_id_by_name(conn, name)
    _lock(conn, queue_id)
    line = list(
        conn.execute(
            sa.select(queue_entries.c.task_id)
            .where(queue_entries.c.queue_id == queue_id)
            .order_by(*_LINE_ORDER)
        ).scalars()
    )
    if task_id not in line:
        raise NotFound(f"task {task_id!r} is not waiting in queue {name!r}")
    line.remove(task_id)
    if to == "top":
        line.insert(0, task_id)
    elif to == "bottom":
        line.append(task_id)
    elif to == "before":
        if before is None:
            raise InvalidInput('moving "before" needs the id of the task to move before')
        if before == task_id:
            raise InvalidInput("a task cannot be moved before itself")
        if before not in line:
            raise NotFound(f"task {before!r} is not waiting in queue {name!r}")
        line.insert(line.index(before), task_id)
    else:
        raise InvalidInput(f"move to must be top, bottom or before, got {to!r}")
    _renumber(conn, line)
    return list_entries(conn, name, visible)


def _renumber(conn: sa.Connection, line: list[str]) -> None:
    conn.execute(
        queue_entries.update()
        .where(queue_entries.c.task_id == sa.bindparam("k_task_id"))
        .values(position=sa.bindparam("k_position")),
        [{"k_task_id": task_id, "k_position": i} for i, task_id in enumerate(line, start=1)],
    )


def _lock(conn: sa.Connection, queue_id: str) -> None:
    # Serialises appends and moves within one queue on PostgreSQL (SQLite serialises every
    # write anyway): positions stay distinct, and two moves never deadlock renumbering rows
    # in different orders.
    conn.execute(sa.select(queues.c.id).where(queues.c.id == queue_id).with_for_update())

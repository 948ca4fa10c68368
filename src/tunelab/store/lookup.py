"""Finding a row or failing with a clear NotFound; the clock every store module uses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.errors import NotFound
from tunelab.store.schema import tasks


def now() -> float:
    return time.time()


def new_id() -> str:
    return uuid.uuid4().hex


# Built once: a statement object used again is found compiled by identity, where building it
# per call costs SQLAlchemy a cache key (more than running it, on small writes).
_TASK_STATUS = sa.select(tasks.c.id, tasks.c.status).where(tasks.c.id == sa.bindparam("task_id"))


def require_task(conn: sa.Connection, task_id: str) -> sa.Row[Any, Any]:
    """The task's ``(id, status)``, or NotFound naming the id."""
    row = conn.execute(_TASK_STATUS, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return row


def visible_only(
    project_id: sa.ColumnElement[str], visible: Sequence[str] | None
) -> list[sa.ColumnElement[bool]]:
    """The condition keeping rows of the projects ``visible`` (ids; empty: none of them),
    to unpack into ``where``; no condition at all for None (every project)."""
    if visible is None:
        return []
    return [project_id.in_(visible) if visible else sa.false()]

"""Finding a row or failing with a clear NotFound; the clock every store module uses."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from tunelab.errors import NotFound
from tunelab.store.schema import tasks


def now() -> float:
    return time.time()


def new_id() -> str:
    return uuid.uuid4().hex


def require_task(conn: sa.Connection, task_id: str) -> sa.Row[Any, Any]:
    """The task's ``(id, status)``, or NotFound naming the id."""
    row = conn.execute(sa.select(tasks.c.id, tasks.c.status).where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return row

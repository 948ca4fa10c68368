"""What the action pages read about tasks besides the store's whole ``Task``: names by id,
for a bulk action's report and a worker's current task."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from tunelab.store.schema import tasks


def task_names(conn: sa.Connection, ids: Collection[str]) -> dict[str, str]:
    """``{id: name}`` of the tasks among ``ids`` that exist, in one query."""
    if not ids:
        return {}
    rows = conn.execute(sa.select(tasks.c.id, tasks.c.name).where(tasks.c.id.in_(set(ids))))
    return {row.id: row.name for row in rows}

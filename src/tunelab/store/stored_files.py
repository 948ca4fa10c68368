"""Which stored files nothing refers to any more, so deleting them breaks no record.

Two records can name one file: a model registered at an artifact's URI, or the same
pretrained weights registered twice. Deleting a record offers its file for deletion only
when no artifact, model or debug sample left in the store still names it.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from tunelab.store.schema import models, task_artifacts, task_debug_samples

# Bound parameters per IN list, well under SQLite's and PostgreSQL's limits.
_CHUNK = 500


def unreferenced(conn: sa.Connection, uris: Iterable[str]) -> list[str]:
    """``uris`` (in order, each once, empty ones dropped) that no artifact, model or debug
    sample names."""
    wanted = list(dict.fromkeys(uri for uri in uris if uri))
    named: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for column in (task_artifacts.c.uri, models.c.uri, task_debug_samples.c.uri):
            named.update(conn.execute(sa.select(column).where(column.in_(chunk))).scalars())
    return [uri for uri in wanted if uri not in named]

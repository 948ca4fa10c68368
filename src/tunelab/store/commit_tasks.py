"""The tasks of a project that ran at given commits (``execution.commit``, as ``Task.init``
records it): the experiments the commits view nests under each commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.store.schema import tasks
from tunelab.store.tasks import SUMMARY_COLUMNS, summaries

MAX_PER_PAGE = 2_000


def tasks_at_commits(
    conn: sa.Connection, project_id: str, shas: Sequence[str], *, archived: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """``{sha: [task summary, ...]}`` (newest first) for the project's tasks recorded at any
    of ``shas`` (full 40-hex shas)."""
    if not shas:
        return {}
    commit = tasks.c.execution["commit"].as_string()
    rows: list[sa.Row[Any]] = list(
        conn.execute(
            sa.select(*SUMMARY_COLUMNS, commit.label("commit_sha"))
            .where(
                tasks.c.project_id == project_id,
                tasks.c.archived == sa.literal(archived),
                commit.in_(list(shas)),
            )
            .order_by(tasks.c.created.desc(), tasks.c.id.desc())
            .limit(MAX_PER_PAGE)
        )
    )
    found: dict[str, list[dict[str, Any]]] = {sha: [] for sha in shas}
    for row, summary in zip(rows, summaries(conn, rows), strict=True):
        found.setdefault(row.commit_sha, []).append(summary)
    return found

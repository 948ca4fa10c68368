"""A task's ``git_run`` record (``tunelab.domain.git_run``) in the ``tasks.git_run`` column.

The record is written whole when the task is created (the Run form, ``POST /tasks``, an
import), edited with the task's other inputs on a draft, and read with the whole task. Its
``results`` are the agent's and the server's to fill (``set_git_results``), in any status:
the results commit is pushed after the run ended. A clone copies the record with
``results`` emptied; a reset empties them.

Example::

    set_git_results(conn, task_id, GitResults(state="pushed", commit=sha, branch="exp-1"))
    git_run_of(conn, task_id).results.state        # "pushed"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from tunelab.domain.git_run import GitResults, GitRun
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.lookup import now
from tunelab.store.schema import task_artifacts, tasks


def checked_git_run(value: GitRun | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The column's value for a record given as a GitRun or a dict (checked), or None."""
    if value is None:
        return None
    if isinstance(value, GitRun):
        return value.to_dict()
    if not isinstance(value, Mapping):
        raise InvalidInput("git_run must be an object or null")
    return GitRun.from_dict(value).to_dict()


def read_git_run(stored: Any) -> dict[str, Any] | None:
    """The task JSON's ``git_run`` from the column's value (NULL: an ordinary task)."""
    if not isinstance(stored, Mapping):
        return None
    return GitRun.from_dict(stored).to_dict()


def without_results(stored: Any) -> dict[str, Any] | None:
    """The column's value with ``results`` emptied (clone, reset), NULL kept NULL."""
    if not isinstance(stored, Mapping):
        return None
    return GitRun.from_dict(stored).without_results().to_dict()


def git_run_of(conn: sa.Connection, task_id: str) -> GitRun | None:
    """The task's record as a GitRun (None for an ordinary task); NotFound for no task."""
    row = conn.execute(sa.select(tasks.c.git_run).where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    return GitRun.from_dict(row.git_run) if isinstance(row.git_run, Mapping) else None


def set_git_results(conn: sa.Connection, task_id: str, results: GitResults) -> GitRun:
    """Record what became of the task's results commit; answers the updated record.

    Allowed in every status (the push follows the run's end, and a retry may follow a
    publish); a Conflict for a task that is not a git run."""
    if not isinstance(results, GitResults):
        raise InvalidInput("git results must be a GitResults")
    checked = GitResults.from_dict(results.to_dict())
    row = conn.execute(
        sa.select(tasks.c.git_run).where(tasks.c.id == task_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    if not isinstance(row.git_run, Mapping):
        raise Conflict("the task was not started from a repository commit: it has no git run")
    updated = replace(GitRun.from_dict(row.git_run), results=checked)
    conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id)
        .values(git_run=updated.to_dict(), last_update=now())
    )
    return updated


# --- what the Run form reads about a commit's earlier runs -----------------------------------

MAX_LOOKED_AT = 200


def newest_entry_point(conn: sa.Connection, project_id: str, sha: str) -> str:
    """The entry point of the newest of the project's experiments recorded at commit ``sha``
    that has one ("" when none does): the Run form's script runs it again."""
    commit = tasks.c.execution["commit"].as_string()
    rows = conn.execute(
        sa.select(tasks.c.execution)
        .where(tasks.c.project_id == project_id, commit == sha)
        .order_by(tasks.c.created.desc(), tasks.c.id.desc())
        .limit(MAX_LOOKED_AT)
    )
    for (execution,) in rows:
        entry = (execution or {}).get("entry_point") if isinstance(execution, Mapping) else None
        if isinstance(entry, str) and entry.strip():
            return entry.strip()
    return ""


def branches_of_runs(conn: sa.Connection, project_id: str, sha: str) -> set[str]:
    """The results branches the project's git runs of commit ``sha`` chose."""
    commit = tasks.c.execution["commit"].as_string()
    rows = conn.execute(
        sa.select(tasks.c.git_run)
        .where(tasks.c.project_id == project_id, commit == sha, tasks.c.git_run.is_not(None))
        .limit(MAX_LOOKED_AT)
    )
    return {str(run.get("branch") or "") for (run,) in rows if isinstance(run, Mapping)} - {""}


def project_artifacts(
    conn: sa.Connection, project_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest artifacts with a file of the project's experiments: what a data file may
    be replaced with."""
    rows = conn.execute(
        sa.select(
            task_artifacts.c.task_id,
            tasks.c.name.label("task_name"),
            task_artifacts.c.name,
            task_artifacts.c.uri,
            task_artifacts.c.size,
            task_artifacts.c.sha256,
        )
        .join(tasks, tasks.c.id == task_artifacts.c.task_id)
        .where(tasks.c.project_id == project_id, task_artifacts.c.uri != "")
        .order_by(task_artifacts.c.created.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]

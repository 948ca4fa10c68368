"""The git repository a project is linked to: its address, default branch, and the files in
it that hold parameters and metrics. One per project; the credentials to fetch it are the
server's settings (``gitops.credentials``), never stored here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.gitops.refs import check_branch, check_path
from tunelab.store.lookup import now
from tunelab.store.schema import project_repositories

MAX_FILES = 50


def get_repository(conn: sa.Connection, project_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(project_repositories).where(project_repositories.c.project_id == project_id)
    ).first()
    return _as_dict(row) if row is not None else None


def require_repository(conn: sa.Connection, project_id: str) -> dict[str, Any]:
    found = get_repository(conn, project_id)
    if found is None:
        raise NotFound(f"project {project_id!r} is linked to no repository")
    return found


def set_repository(
    conn: sa.Connection,
    project_id: str,
    url: str,
    default_branch: str,
    params_files: Sequence[str] = (),
    metrics_files: Sequence[str] = (),
) -> dict[str, Any]:
    """Link the project (or change its link). ``url`` is checked by the caller
    (``gitops.remote.parse_remote``); branch and paths here."""
    values = {
        "url": url,
        "default_branch": check_branch(default_branch),
        "params_files": _paths(params_files, "params_files"),
        "metrics_files": _paths(metrics_files, "metrics_files"),
        "last_update": now(),
    }
    done = conn.execute(
        sa.update(project_repositories)
        .where(project_repositories.c.project_id == project_id)
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(
            sa.insert(project_repositories).values(
                project_id=project_id, created=values["last_update"], **values
            )
        )
    return require_repository(conn, project_id)


def delete_repository(conn: sa.Connection, project_id: str) -> bool:
    done = conn.execute(
        sa.delete(project_repositories).where(project_repositories.c.project_id == project_id)
    )
    return done.rowcount > 0


def all_repositories(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(project_repositories).order_by(project_repositories.c.project_id))
    return [_as_dict(row) for row in rows]


def _paths(paths: Sequence[str], what: str) -> list[str]:
    if len(paths) > MAX_FILES:
        raise InvalidInput(f"{what}: at most {MAX_FILES} files")
    return list(dict.fromkeys(check_path(p) for p in paths if p.strip()))


def _as_dict(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "url": row.url,
        "default_branch": row.default_branch,
        "params_files": list(row.params_files or []),
        "metrics_files": list(row.metrics_files or []),
        # The CI setup wizard's saved fields (store.ci_settings), None until saved.
        "ci_settings": row.ci_settings,
        "created": row.created,
        "last_update": row.last_update,
    }

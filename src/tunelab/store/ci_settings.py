"""The CI setup wizard's last saved fields for a project's linked repository (a JSON column
of its link): what the server uses to start the repository's CI for a task."""

from __future__ import annotations

import sqlalchemy as sa

from tunelab.errors import InvalidInput
from tunelab.gitops.ci_settings import CiSettings
from tunelab.store.lookup import now
from tunelab.store.repositories import require_repository
from tunelab.store.schema import project_repositories


def get_ci_settings(conn: sa.Connection, project_id: str) -> CiSettings | None:
    """The saved settings; None when the wizard was never saved (or the project is linked
    to no repository)."""
    raw = conn.execute(
        sa.select(project_repositories.c.ci_settings).where(
            project_repositories.c.project_id == project_id
        )
    ).scalar()
    if not isinstance(raw, dict):
        return None
    try:
        return CiSettings.from_dict(raw)
    except InvalidInput:
        # Saved by an older version with other fields: the defaults, as if never saved.
        return None


def set_ci_settings(conn: sa.Connection, project_id: str, settings: CiSettings) -> CiSettings:
    """Save the settings on the project's link (NotFound: the project has none)."""
    require_repository(conn, project_id)
    conn.execute(
        sa.update(project_repositories)
        .where(project_repositories.c.project_id == project_id)
        .values(ci_settings=settings.to_dict(), last_update=now())
    )
    return settings

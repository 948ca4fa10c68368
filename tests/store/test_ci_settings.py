"""The CI setup wizard's saved fields on a project's link, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.errors import NotFound
from tunelab.gitops.ci_settings import CiSettings
from tunelab.store import ci_settings, repositories
from tunelab.store.schema import project_repositories
from tunelab.store.tasks import create_task


def test_save_read_and_forget_with_the_link(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project = create_task(conn, name="t", project="ci-saved")["project"]["id"]
        with pytest.raises(NotFound):
            ci_settings.set_ci_settings(conn, project, CiSettings())
        repositories.set_repository(conn, project, "https://git.example.com/a.git", "main")
        assert ci_settings.get_ci_settings(conn, project) is None
        assert repositories.get_repository(conn, project)["ci_settings"] is None  # type: ignore[index]
        wanted = CiSettings.from_dict(
            {"runner": "cloud", "gpu": "v100", "labels": ["gpu: 'x'", "ünï"], "spot": True}
        )
        ci_settings.set_ci_settings(conn, project, wanted)
        assert ci_settings.get_ci_settings(conn, project) == wanted
        link = repositories.get_repository(conn, project)
        assert link is not None and link["ci_settings"]["labels"] == ["gpu: 'x'", "ünï"]
        # Changing the link keeps them; fields an older version saved are read as never saved.
        repositories.set_repository(conn, project, "https://git.example.com/b.git", "dev")
        assert ci_settings.get_ci_settings(conn, project) == wanted
        conn.execute(
            sa.update(project_repositories)
            .where(project_repositories.c.project_id == project)
            .values(ci_settings={"retired": 1})
        )
        assert ci_settings.get_ci_settings(conn, project) is None
        repositories.delete_repository(conn, project)
        assert ci_settings.get_ci_settings(conn, project) is None

"""A project's linked repository and the tasks recorded at its commits, on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store import repositories
from tunelab.store.commit_tasks import tasks_at_commits
from tunelab.store.lifecycle import archive
from tunelab.store.tasks import create_task

SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40


def test_link_change_and_unlink(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project = create_task(conn, name="t", project="linked")["project"]["id"]
        assert repositories.get_repository(conn, project) is None
        made = repositories.set_repository(
            conn, project, "https://git.example.com/a.git", "main", ["params.yaml"]
        )
        assert made["url"] == "https://git.example.com/a.git"
        assert (made["params_files"], made["metrics_files"]) == (["params.yaml"], [])
        changed = repositories.set_repository(
            conn, project, "https://git.example.com/b.git", "dev", [], ["eval/m.json", "x.yaml"]
        )
        assert changed["created"] == made["created"] and changed["default_branch"] == "dev"
        assert changed["metrics_files"] == ["eval/m.json", "x.yaml"]
        assert [r["project_id"] for r in repositories.all_repositories(conn)] == [project]
        assert repositories.delete_repository(conn, project) is True
        with pytest.raises(NotFound):
            repositories.require_repository(conn, project)
        assert repositories.delete_repository(conn, project) is False


@pytest.mark.parametrize(
    ("branch", "files"),
    [("--upload-pack=x", []), ("a..b", []), ("main", ["../secret"]), ("main", ["a\nb"])],
)
def test_bad_branch_or_files_are_refused(engine: sa.Engine, branch: str, files: list[str]) -> None:
    with engine.begin() as conn:
        project = create_task(conn, name="t", project="refused")["project"]["id"]
        with pytest.raises(InvalidInput):
            repositories.set_repository(conn, project, "/srv/r.git", branch, files)


def test_tasks_at_commits_by_recorded_commit(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = create_task(conn, name="first", project="bycommit", execution={"commit": SHA_A})
        second = create_task(conn, name="second", project="bycommit", execution={"commit": SHA_A})
        other = create_task(conn, name="other", project="bycommit", execution={"commit": SHA_B})
        create_task(conn, name="elsewhere", project="not-this", execution={"commit": SHA_A})
        create_task(conn, name="no commit", project="bycommit")
        gone = create_task(conn, name="archived", project="bycommit", execution={"commit": SHA_B})
        archive(conn, gone["id"])
        project = first["project"]["id"]
        found = tasks_at_commits(conn, project, [SHA_A, SHA_B, SHA_C])
        assert [t["name"] for t in found[SHA_A]] == ["second", "first"]
        assert [t["id"] for t in found[SHA_B]] == [other["id"]]
        assert found[SHA_C] == []
        assert found[SHA_A][0]["id"] == second["id"] and found[SHA_A][0]["status"] == "draft"
        assert tasks_at_commits(conn, project, []) == {}

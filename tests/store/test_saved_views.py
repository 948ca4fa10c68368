"""Saved views on SQLite and PostgreSQL: a view belongs to a project that exists."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tunelab.errors import NotFound
from tunelab.store.projects import ensure_project
from tunelab.store.saved_views import create_view, list_views


def test_a_view_of_a_project_that_does_not_exist_is_not_found(engine: sa.Engine) -> None:
    """Not the database's foreign-key error (a 500 on the page that saves a view)."""
    with engine.begin() as conn:
        project = ensure_project(conn, "vision")
        with pytest.raises(NotFound, match="no project with id ' '"):
            create_view(conn, " ", "best", {"sort": "name"})
        made = create_view(conn, project, "best", {"sort": "name"})
        assert [view["id"] for view in list_views(conn, project)] == [made["id"]]

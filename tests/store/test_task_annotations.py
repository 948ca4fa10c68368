"""Tags added and removed one at a time, the name's rule, and the version a table polls:
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store import lifecycle
from tunelab.store.task_listing import TaskQuery, listing_version
from tunelab.store.tasks import create_task, get_task, retag, update_task


def _project() -> str:
    return f"annotate-{uuid.uuid4().hex[:10]}"


def test_retag_adds_and_removes_keeping_the_others(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="t", project=_project(), tags=["a", "b"])
        assert retag(conn, task["id"], add=["c", "a"], remove=["b"])["tags"] == ["a", "c"]
        assert retag(conn, task["id"], remove=["missing"])["tags"] == ["a", "c"]
        with pytest.raises(InvalidInput):
            retag(conn, task["id"], add=["x" * 257])
        with pytest.raises(NotFound):
            retag(conn, "0" * 32, add=["a"])


def test_a_published_task_takes_tags_but_keeps_its_name(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = create_task(conn, name="final", project=_project(), status="completed")
        lifecycle.publish(conn, task["id"])
        assert retag(conn, task["id"], add=["paper"])["tags"] == ["paper"]
        with pytest.raises(Conflict, match="cannot rename a published task"):
            update_task(conn, task["id"], {"name": "later"})
        update_task(conn, task["id"], {"name": "final", "comment": "kept"})
        assert get_task(conn, task["id"])["comment"] == "kept"


def test_the_listing_version_moves_with_any_change_it_matches(engine: sa.Engine) -> None:
    project = _project()
    with engine.begin() as conn:
        query = TaskQuery(project=project)
        first = create_task(conn, name="first", project=project)
        one = listing_version(conn, query)
        assert listing_version(conn, query) == one  # nothing changed: the same token
        second = create_task(conn, name="second", project=project)
        two = listing_version(conn, query)
        lifecycle.enqueue(conn, second["id"], "default")
        enqueued = listing_version(conn, query)
        create_task(conn, name="elsewhere", project=_project())
        assert listing_version(conn, query) == enqueued  # another project's task: no change
        lifecycle.delete(conn, first["id"])
        deleted = listing_version(conn, query)
        assert len({one, two, enqueued, deleted}) == 4

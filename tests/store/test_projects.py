"""Projects on SQLite and PostgreSQL: paths, parents made on demand, children, task counts."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tunelab.errors import InvalidInput, NotFound
from tunelab.store.projects import (
    create_project,
    ensure_project,
    get_project,
    list_projects,
    update_project,
)
from tunelab.store.tasks import create_task, update_task


def names(items: list[dict[str, object]]) -> list[object]:
    return [item["name"] for item in items]


def test_ensure_project_creates_missing_parents_once(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        leaf = ensure_project(conn, "vision/resnet/deep")
        assert ensure_project(conn, "vision/resnet/deep") == leaf
        parent = ensure_project(conn, "vision/resnet")
        assert names(list_projects(conn)) == ["vision", "vision/resnet", "vision/resnet/deep"]
        assert get_project(conn, leaf)["name"] == "vision/resnet/deep"
        assert get_project(conn, parent)["name"] == "vision/resnet"


@pytest.mark.parametrize(
    "path", ["", "/vision", "vision/", "vision//resnet", " vision", "vision/ x", "v" * 513]
)
def test_invalid_paths_are_refused(engine: sa.Engine, path: str) -> None:
    with engine.begin() as conn:
        with pytest.raises(InvalidInput):
            ensure_project(conn, path)
        assert list_projects(conn) == []


def test_create_project_tells_new_from_existing_and_keeps_the_first_description(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        first, created = create_project(conn, "nlp/bert", "language models")
        assert created
        assert first["description"] == "language models"
        assert first["task_count"] == 0
        again, created_again = create_project(conn, "nlp/bert", "something else")
        assert not created_again
        assert again == first
        # The parent made on the way has no description of its own.
        (parent,) = [p for p in list_projects(conn) if p["name"] == "nlp"]
        assert parent["description"] == ""


def test_parent_lists_direct_children_only(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for path in ["vision/resnet/deep", "vision/vit", "visionary/x", "vision2"]:
            ensure_project(conn, path)
        assert names(list_projects(conn, parent="vision")) == ["vision/resnet", "vision/vit"]
        assert names(list_projects(conn, parent="vision/resnet")) == ["vision/resnet/deep"]
        assert list_projects(conn, parent="vision/vit") == []
        with pytest.raises(NotFound):
            list_projects(conn, parent="nothing")


def test_like_wildcards_in_names_match_only_themselves(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for path in ["a_b/child", "axb/other", "50%/c", "50x/d"]:
            ensure_project(conn, path)
        assert names(list_projects(conn, parent="a_b")) == ["a_b/child"]
        assert names(list_projects(conn, parent="50%")) == ["50%/c"]


def test_task_count_covers_sub_projects_but_not_archived_tasks(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        create_task(conn, name="a", project="vision")
        create_task(conn, name="b", project="vision/resnet")
        archived = create_task(conn, name="c", project="vision/resnet")
        update_task(conn, archived["id"], {"archived": True})
        create_task(conn, name="d", project="visionary")
        counts = {p["name"]: p["task_count"] for p in list_projects(conn)}
        assert counts == {"vision": 2, "vision/resnet": 1, "visionary": 1}
        assert get_project(conn, archived["project"]["id"])["task_count"] == 1


def test_update_description(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project, _ = create_project(conn, "audio")
        updated = update_project(conn, project["id"], description="speech")
        assert updated["description"] == "speech"
        assert updated["last_update"] > project["last_update"]
        assert updated["created"] == project["created"]
        assert get_project(conn, project["id"]) == updated
        with pytest.raises(NotFound):
            update_project(conn, "0" * 32, description="x")
        with pytest.raises(NotFound):
            get_project(conn, "0" * 32)


def test_concurrent_creators_of_a_project_get_the_same_one(engine: sa.Engine) -> None:
    """The second creator waits for the first one's transaction, then takes its project."""
    found: dict[str, str] = {}

    def second() -> None:
        with engine.begin() as conn:
            found["second"] = ensure_project(conn, "race/leaf")

    with engine.begin() as conn:
        found["first"] = ensure_project(conn, "race/leaf")
        other = threading.Thread(target=second)
        other.start()
        if engine.dialect.name == "postgresql":
            # Hold the first transaction open until the second is blocked on the unique
            # name, so it loses the race and must fall back to the winner's row.
            with engine.connect() as watcher:
                while not watcher.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                ).scalar_one():
                    watcher.rollback()
    other.join(timeout=60)
    assert found["second"] == found["first"]
    with engine.begin() as conn:
        assert names(list_projects(conn)) == ["race", "race/leaf"]

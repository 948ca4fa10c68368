"""A task's artifacts on SQLite and PostgreSQL: stored, replaced, listed, deleted; refused
once the task is published; bad input refused before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store import lifecycle
from tunelab.store.artifacts import (
    delete_artifact,
    get_artifact,
    list_artifacts,
    put_artifact,
)
from tunelab.store.models import create_model
from tunelab.store.tasks import get_task

DIGEST = "ab" * 32


def fields(**changes: Any) -> dict[str, Any]:
    return {
        "type": "pandas",
        "format": "parquet",
        "uri": "s3://bucket/run/features.parquet",
        "size": 1024,
        "sha256": DIGEST,
        **changes,
    }


def test_store_read_list_and_replace(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        before = get_task(conn, task_id)["last_update"]
        stored = put_artifact(
            conn, task_id, "features", **fields(preview="rows: 3", metadata={"rows": 3})
        )
        assert stored == {
            "name": "features",
            "type": "pandas",
            "format": "parquet",
            "uri": "s3://bucket/run/features.parquet",
            "size": 1024,
            "sha256": DIGEST,
            "preview": "rows: 3",
            "metadata": {"rows": 3},
            "created": stored["created"],
        }
        assert get_task(conn, task_id)["last_update"] >= before
        put_artifact(conn, task_id, "a model card", **fields(uri="file:///tmp/card.md"))
        assert [a["name"] for a in list_artifacts(conn, task_id)] == ["a model card", "features"]
        # The same name replaces; an upper-case digest is stored lower-case.
        replaced = put_artifact(conn, task_id, "features", **fields(size=7, sha256="AB" * 32))
        assert (replaced["size"], replaced["sha256"], replaced["metadata"]) == (7, DIGEST, {})
        assert get_artifact(conn, task_id, "features") == replaced
        assert get_task(conn, task_id)["artifacts"]["features"] == replaced
        assert len(list_artifacts(conn, task_id)) == 2


def test_outputs_in_every_status_but_published(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for status in ("draft", "queued", "running", "completed", "failed", "stopped"):
            task_id = task_in(conn, status)
            assert put_artifact(conn, task_id, "x", **fields())["name"] == "x"
            delete_artifact(conn, task_id, "x")
        task_id = task_in(conn, "stopped")
        put_artifact(conn, task_id, "kept", **fields())
        lifecycle.publish(conn, task_id)
        before = get_task(conn, task_id)
        with pytest.raises(Conflict, match="cannot edit the outputs of a published task"):
            put_artifact(conn, task_id, "new", **fields())
        with pytest.raises(Conflict, match="published"):
            delete_artifact(conn, task_id, "kept")
        assert get_task(conn, task_id) == before


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("a/b", {}),
        ("", {}),
        ("tab\there", {}),
        ("x" * 257, {}),
        ("ok", {"size": -1}),
        ("ok", {"size": 2**63}),
        ("ok", {"size": True}),
        ("ok", {"sha256": "xyz"}),
        ("ok", {"sha256": None}),
        ("ok", {"type": "t" * 65}),
        ("ok", {"uri": 5}),
        ("ok", {"metadata": {"loss": float("nan")}}),
        ("ok", {"metadata": {"when": object()}}),
        ("ok", {"metadata": ["not", "an", "object"]}),
        ("ok", {"metadata": {"big": "x" * 70_000}}),
    ],
)
def test_bad_input_is_refused(engine: sa.Engine, name: str, changes: dict[str, Any]) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        with pytest.raises(InvalidInput):
            put_artifact(conn, task_id, name, **fields(**changes))
        assert list_artifacts(conn, task_id) == []


def test_an_empty_digest_is_a_file_without_a_known_hash(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        stored = put_artifact(conn, task_id, "link", **fields(sha256="", size=0))
        assert stored["sha256"] == ""


def test_unknown_tasks_and_names_are_not_found(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        for bad in ("0" * 32, "nope", "a\x00b"):
            with pytest.raises(NotFound, match="no task"):
                put_artifact(conn, bad, "x", **fields())
            with pytest.raises(NotFound, match="no task"):
                list_artifacts(conn, bad)
            with pytest.raises(NotFound, match="no task"):
                get_artifact(conn, bad, "x")
        for name in ("missing", "a\x00b", "a/b"):
            with pytest.raises(NotFound, match="no artifact named"):
                get_artifact(conn, task_id, name)
            with pytest.raises(NotFound, match="no artifact named"):
                delete_artifact(conn, task_id, name)


def test_delete_answers_the_file_unless_another_record_names_it(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        put_artifact(conn, task_id, "a", **fields(uri="file:///data/a.bin"))
        put_artifact(conn, task_id, "b", **fields(uri="file:///data/shared.bin"))
        put_artifact(conn, task_id, "c", **fields(uri="file:///data/shared.bin"))
        put_artifact(conn, task_id, "d", **fields(uri="file:///data/weights.pt"))
        put_artifact(conn, task_id, "e", **fields(uri=""))
        create_model(conn, name="m", uri="file:///data/weights.pt")
        assert delete_artifact(conn, task_id, "a") == ["file:///data/a.bin"]
        assert delete_artifact(conn, task_id, "b") == []
        assert delete_artifact(conn, task_id, "c") == ["file:///data/shared.bin"]
        assert delete_artifact(conn, task_id, "d") == []
        assert delete_artifact(conn, task_id, "e") == []
        assert list_artifacts(conn, task_id) == []

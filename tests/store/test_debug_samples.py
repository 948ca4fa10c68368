"""Debug samples on SQLite and PostgreSQL: register, replace, the history bound, the newest
per series, and what reset, delete and clone do with them (the files they answer)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.errors import NotFound
from tunelab.store import lifecycle
from tunelab.store.artifacts import put_artifact
from tunelab.store.debug_samples import (
    list_samples,
    read_sample,
    register_sample,
    sample_iterations,
)


def sample(iteration: int, series: str = "val", uri: str | None = None) -> dict[str, Any]:
    return {
        "title": "masks",
        "series": series,
        "iteration": iteration,
        "kind": "image",
        "mime": "image/png",
        "uri": uri or f"tunelab://p/t/{series}/{iteration}.png",
        "size": 10 + iteration,
    }


def test_register_replace_and_bound_the_history(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = task_in(conn, "running")
        for it in range(3):
            assert register_sample(conn, task, sample(it)) == []
        register_sample(conn, task, sample(0, "train"))
        # The same iteration again at another URI: the old file is no record's any more.
        assert register_sample(conn, task, sample(2, uri="tunelab://p/t/v2.png")) == [
            "tunelab://p/t/val/2.png"
        ]
        # A history of two: iterations 0 and 1 of masks/val go, masks/train stays.
        dropped = register_sample(conn, task, sample(3), history=2)
        assert dropped == ["tunelab://p/t/val/0.png", "tunelab://p/t/val/1.png"]
        assert sample_iterations(conn, task) == {("masks", "train"): [0], ("masks", "val"): [2, 3]}
        newest = list_samples(conn, task, last_only=True)
        assert [(s.series, s.iteration) for s in newest] == [("train", 0), ("val", 3)]
        assert read_sample(conn, task, "masks", "val").uri == "tunelab://p/t/val/3.png"
        assert read_sample(conn, task, "masks", "val", 2).size == 12
        with pytest.raises(NotFound):
            read_sample(conn, task, "masks", "val", 0)
        with pytest.raises(NotFound):
            register_sample(conn, "0" * 32, sample(0))


def test_urls_and_shared_files_are_never_offered_for_deletion(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task = task_in(conn, "running")
        register_sample(conn, task, sample(0, uri="https://example.com/a.png"))
        put_artifact(conn, task, "kept", type="file", format="png", uri="tunelab://p/shared.png",
                     size=1, sha256="")  # fmt: skip
        register_sample(conn, task, sample(1, uri="tunelab://p/shared.png"))
        assert register_sample(conn, task, sample(2), history=1) == []


def test_reset_and_delete_remove_samples_clone_does_not_copy(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        done = task_in(conn, "completed")
        register_sample(conn, done, sample(0))
        register_sample(conn, done, sample(1, uri="https://example.com/b.png"))
        clone = lifecycle.clone(conn, done)["id"]
        assert list_samples(conn, clone) == []
        reset = lifecycle.reset(conn, done)
        assert reset.files == ["tunelab://p/t/val/0.png"]
        assert list_samples(conn, done) == []
        register_sample(conn, clone, sample(5))
        assert lifecycle.delete(conn, clone) == ["tunelab://p/t/val/5.png"]
        assert list_samples(conn, clone) == []

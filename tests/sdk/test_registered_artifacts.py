"""Registered DataFrames: uploaded when they change (at registration, on a sync, every
period), never again while unchanged, once more when unregistered."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd
import pytest

from tests.waiting import wait_for
from tunelab.errors import InvalidInput
from tunelab.sdk.registered_artifacts import RegisteredArtifacts


class Uploads:
    """What the task's upload would receive: the name, the content then, the metadata."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[Any], dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, frame: Any, metadata: dict[str, Any]) -> None:
        with self.lock:
            self.seen.append((name, frame["v"].tolist(), metadata))


def test_changes_are_uploaded_on_sync_and_unchanged_content_is_not() -> None:
    uploads = Uploads()
    registered = RegisteredArtifacts(uploads, period=3600)
    df = pd.DataFrame({"k": [1, 1], "v": [0.5, 0.4]})
    registered.register("rows", df, {"split": "train"}, uniqueness_columns=["k"])
    registered.sync()
    df.loc[len(df)] = [2, 0.3]
    registered.sync()
    registered.sync()
    assert uploads.seen == [
        ("rows", [0.5, 0.4], {"split": "train", "rows": "2", "unique rows": "1"}),
        ("rows", [0.5, 0.4, 0.3], {"split": "train", "rows": "3", "unique rows": "2"}),
    ]
    df.loc[len(df)] = [3, 0.2]
    registered.unregister("rows")
    assert "rows" not in registered and uploads.seen[-1][1] == [0.5, 0.4, 0.3, 0.2]
    df.loc[len(df)] = [4, 0.1]
    registered.sync()
    assert len(uploads.seen) == 3
    registered.stop()


def test_a_change_is_uploaded_by_the_periodic_sync() -> None:
    uploads = Uploads()
    registered = RegisteredArtifacts(uploads, period=0.05)
    df = pd.DataFrame({"v": [1.0]})
    registered.register("live", df, {}, uniqueness_columns=True)
    df.loc[len(df)] = [2.0]
    wait_for(lambda: len(uploads.seen) == 2, timeout=5, what="the periodic sync")
    assert uploads.seen[-1][1] == [1.0, 2.0]
    registered.stop()


@pytest.mark.parametrize(
    ("obj", "columns", "why"),
    [
        ({"v": [1]}, True, "only a pandas DataFrame"),
        (pd.DataFrame({"v": [1]}), ["nope"], "not columns"),
    ],
)
def test_what_cannot_be_registered_is_refused(obj: Any, columns: Any, why: str) -> None:
    registered = RegisteredArtifacts(Uploads(), period=3600)
    with pytest.raises(InvalidInput, match=why):
        registered.register("bad", obj, {}, columns)

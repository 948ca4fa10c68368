"""What the importer tests share: the session's server, a client, and a progress that stops
an import half-way (as a kill would)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tunelab.importers.progress import ImportProgress
from tunelab.sdk.transport import ApiClient, all_items


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


class Interrupted(Exception):
    """Raised by ``StopInRun``: the import stops as if killed."""


class StopInRun(ImportProgress):
    """Stops the import when the ``run``-th run (from 1) has stored its first points: that
    run's task is left half-written."""

    def __init__(self, run: int) -> None:
        self.run = run
        self.started = 0

    def run_started(self, label: str) -> None:
        self.started += 1

    def points(self, count: int) -> None:
        if self.started == self.run:
            raise Interrupted(f"stopped in run {self.run}")


def project_tasks(client: ApiClient, project: str) -> list[dict[str, Any]]:
    """Every task of the project, archived ones too, with its whole record."""
    items = all_items(client.list_tasks, project=project, archived="all")
    return [client.get_task(item["id"]) for item in items]


def source_of(task: dict[str, Any]) -> str:
    return str(task["user_properties"]["imported_from"]["value"])

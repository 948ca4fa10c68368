"""The optimizer's trials run on real agents, from real git repositories isolated from the
user's git config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitrepo import isolate_git
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("optimizer-home")
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, path)
        yield path


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[ApiClient]:
    with ApiClient(server.url) as api:
        yield api

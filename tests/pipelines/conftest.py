"""Pipeline tests run real agents on real git repositories, isolated from the user's git config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitrepo import isolate_git


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)

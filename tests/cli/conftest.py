"""What the CLI tests share: the environment a user's shell has, and an API client to
set up and check what the commands did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import script_env
from tunelab.sdk.transport import ApiClient


@pytest.fixture
def env(api_url: str, tmp_path: Path) -> dict[str, str]:
    return script_env(api_url, tmp_path)


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api

"""What the fault tests share: a server process of each test's own (it gets killed and
starved), and agents the test starts and ends itself."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import ServerProcess


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the server; a test module overrides it (a short worker timeout)."""
    return {}


@pytest.fixture
def server(tmp_path: Path, server_env: dict[str, str]) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", env=server_env)
    try:
        proc.start(timeout=120)  # generous: a busy machine starts it slowly
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def agents() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Agents the test appends as it starts them; any still running are killed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

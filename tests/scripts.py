"""Running real training scripts as subprocesses against the test server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def script_env(api_url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment a user's script gets: the server URL and a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
    env.update({"TUNELAB_API_URL": api_url, "HOME": str(home), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def write_script(folder: Path, body: str, name: str = "train.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def run_script(
    path: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )

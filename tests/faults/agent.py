"""A real ``tunelab agent daemon`` for the fault tests, its heartbeat well inside a short
worker timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def start_agent(api_url: str, home: Path, work_dir: Path, queue: str) -> subprocess.Popen[bytes]:
    """An agent serving ``queue``, logging to ``home/agent.log``; the caller ends it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNELAB_")}
    env.update({"TUNELAB_API_URL": api_url, "HOME": str(home)})
    home.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "tunelab.cli.main", "agent", "daemon", "--queue", queue,
        "--work-dir", str(work_dir), "--poll-timeout", "2", "--stop-grace", "5",
        "--heartbeat-interval", "0.5",
    ]  # fmt: skip
    with open(home / "agent.log", "wb") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

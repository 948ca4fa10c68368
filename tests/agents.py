"""A real ``tunelab agent daemon`` process for end-to-end tests."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.scripts import script_env


@contextlib.contextmanager
def agent_daemon(
    api_url: str,
    tmp_path: Path,
    queue: str,
    *,
    options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """An agent serving ``queue`` (with more ``options`` and ``env``), its work dir
    ``tmp_path/agent-work``, logging to ``tmp_path/agent.log``; stopped with SIGTERM (killed
    if it does not stop within 30 s)."""
    env = script_env(api_url, tmp_path, **(env or {}))
    command = [
        sys.executable, "-m", "tunelab.cli.main", "agent", "daemon",
        "--queue", queue, "--work-dir", str(tmp_path / "agent-work"), "--stop-grace", "5",
        *options,
    ]  # fmt: skip
    with open(tmp_path / "agent.log", "w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

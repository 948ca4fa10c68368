"""The ``--work-dir`` of the commands that run tasks (agent, launcher): made before they
serve, so one that cannot be made stops the command with one line, rather than failing
every task it would take."""

from __future__ import annotations

from pathlib import Path

from tunelab.errors import ConfigError


def made_work_dir(text: str) -> Path:
    """``text`` as an absolute folder, made if need be; ConfigError (exit 2) if it cannot be."""
    root = Path(text).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--work-dir {root}: {exc.strerror or exc}") from None
    return root

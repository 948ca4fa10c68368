"""Git credentials: the ``[[git]]`` tables of the server's config file.

The file is ``~/.config/tunelab/config.toml`` or the one ``TUNELAB_CONFIG_FILE`` names::

    [[git]]
    host = "github.com"            # the remote's host (host:port where it names a port)
    username = "ci-bot"            # HTTPS: sent with the token (or password) as basic auth
    token = "ghp_..."              # or password = "..."

    [[git]]
    host = "git.example.com"
    ssh_key = "~/.ssh/tunelab_deploy"   # ssh:// and user@host:path remotes

The entry whose host is the remote's is used; an entry without a host is the default. The
secrets stay in the server's process: never stored with a project, never in an answer, a
page or a mirror's own config (they are passed on git's command line for the one call).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.errors import ConfigError
from tunelab.sdk.config import config_file_path, read_config_tables


@dataclass(frozen=True)
class GitCredential:
    host: str | None = None
    username: str | None = None
    token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ssh_key: str | None = None

    @property
    def secret(self) -> str | None:
        return self.token or self.password


@dataclass(frozen=True)
class GitCredentials:
    """Every ``[[git]]`` entry of one config file."""

    entries: tuple[GitCredential, ...] = ()

    def for_host(self, host: str | None) -> GitCredential | None:
        """The entry for ``host`` (lower case, with its port if the URL names one), else the
        default entry, else None."""
        wanted = host.lower() if host else None
        default = None
        for entry in self.entries:
            if entry.host is None:
                default = default or entry
            elif wanted is not None and entry.host == wanted:
                return entry
        return default

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so git's messages can be scrubbed of them."""
        return tuple(s for e in self.entries for s in (e.token, e.password) if s)


def load_git_credentials(
    environ: Mapping[str, str] = os.environ, path: str | os.PathLike[str] | None = None
) -> GitCredentials:
    """Read the ``[[git]]`` tables; a missing file means none.

    A bad entry raises ConfigError naming the file and the key, never the value."""
    file_path = config_file_path(environ, path)
    data = read_config_tables(file_path)
    tables = data.get("git", [])
    if isinstance(tables, dict):  # [git] written once instead of [[git]]
        tables = [tables]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise _bad(file_path, "git", "must be tables: [[git]]")
    return GitCredentials(tuple(_entry(file_path, i, t) for i, t in enumerate(tables)))


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be non-empty text")
    return value.strip()


_FIELDS: dict[str, Callable[[Any], str]] = {
    "host": lambda v: _text(v).lower(),
    "username": _text,
    "token": _text,
    "password": _text,
    "ssh_key": lambda v: os.path.expanduser(_text(v)),
}


def _entry(file_path: Path, index: int, table: dict[str, Any]) -> GitCredential:
    where = f"git[{index}]"
    values: dict[str, str] = {}
    for key, raw in table.items():
        if key not in _FIELDS:
            raise _bad(file_path, f"{where}.{key}", f"is unknown; known keys: {', '.join(_FIELDS)}")
        try:
            values[key] = _FIELDS[key](raw)
        except ValueError as exc:
            raise _bad(file_path, f"{where}.{key}", str(exc)) from None
    if "token" in values and "password" in values:
        raise _bad(file_path, f"{where}.password", "give a token or a password, not both")
    if ("token" in values or "password" in values) and "username" not in values:
        # Forges take any user name with a token; basic auth still needs one.
        values["username"] = "git"
    return GitCredential(**values)


def _bad(file_path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{file_path}: {key} {problem}", {"path": str(file_path), "key": key})

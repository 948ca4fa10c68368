"""Forges: the ``[[forge]]`` tables of the server's config file.

The file is ``~/.config/tunelab/config.toml`` or the one ``TUNELAB_CONFIG_FILE`` names::

    [[forge]]
    url = "https://github.com"          # repositories whose URL starts with this use this forge
    kind = "github"                     # "github" | "gitlab"
    api_url = "https://api.github.com"  # its REST API
    token = "ghp_..."                   # never shown, never stored with a project or a task

    [[forge]]
    url = "https://gitlab.example.com"
    kind = "gitlab"                     # api_url defaults to <url>/api/v4
    token = "glpat-..."

A repository matches an entry when their hosts are the same and the repository's path lies
under the entry's path; an ssh address (``git@github.com:team/repo.git``) matches by its host
too. The longest matching ``url`` wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tunelab.errors import ConfigError, InvalidInput
from tunelab.gitops.remote import parse_remote
from tunelab.sdk.config import config_file_path, read_config_tables

ForgeKind = Literal["github", "gitlab"]
KINDS: tuple[ForgeKind, ...] = ("github", "gitlab")
_DEFAULT_API = {"https://github.com": "https://api.github.com"}


@dataclass(frozen=True)
class ForgeEntry:
    url: str
    kind: ForgeKind
    api_url: str
    token: str = field(repr=False)

    @property
    def host(self) -> str:
        return _host_of(self.url)

    @property
    def path_prefix(self) -> str:
        return urlsplit(self.url).path.strip("/")

    def repository_path(self, repository_url: str) -> str | None:
        """``owner/repo`` (``group/sub/repo`` on GitLab) of a repository this forge hosts,
        else None."""
        located = repository_location(repository_url)
        if located is None or located[0] != self.host:
            return None
        path = located[1]
        prefix = self.path_prefix
        if prefix:
            if not path.startswith(prefix + "/"):
                return None
            path = path[len(prefix) + 1 :]
        return path if "/" in path else None


@dataclass(frozen=True)
class Forges:
    """Every ``[[forge]]`` entry of one config file."""

    entries: tuple[ForgeEntry, ...] = ()

    def for_repository(self, repository_url: str) -> ForgeEntry | None:
        matching = [e for e in self.entries if e.repository_path(repository_url) is not None]
        return max(matching, key=lambda e: len(e.path_prefix), default=None)

    def secrets(self) -> tuple[str, ...]:
        return tuple(e.token for e in self.entries)


def repository_location(repository_url: str) -> tuple[str, str] | None:
    """(host, path without ``.git``) of an http(s) or ssh repository address; None for a
    local path or an address that is not one."""
    try:
        remote = parse_remote(repository_url)
    except InvalidInput:
        return None
    if remote.host is None:
        return None
    url = remote.url
    # user@host:path (scp form) has no scheme.
    path = urlsplit(url).path if "://" in url else url.split(":", 1)[1]
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return remote.host, path.strip("/")


def load_forges(
    environ: Mapping[str, str] = os.environ, path: str | os.PathLike[str] | None = None
) -> Forges:
    """Read the ``[[forge]]`` tables; a missing file means none.

    A bad entry raises ConfigError naming the file and the key, never the value."""
    file_path = config_file_path(environ, path)
    tables = read_config_tables(file_path).get("forge", [])
    if isinstance(tables, dict):  # [forge] written once instead of [[forge]]
        tables = [tables]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise _bad(file_path, "forge", "must be tables: [[forge]]")
    return Forges(tuple(_entry(file_path, i, t) for i, t in enumerate(tables)))


_KEYS = ("url", "kind", "api_url", "token")


def _entry(file_path: Path, index: int, table: dict[str, Any]) -> ForgeEntry:
    where = f"forge[{index}]"
    values: dict[str, str] = {}
    for key, raw in table.items():
        if key not in _KEYS:
            raise _bad(file_path, f"{where}.{key}", f"is unknown; known keys: {', '.join(_KEYS)}")
        if not isinstance(raw, str) or not raw.strip():
            raise _bad(file_path, f"{where}.{key}", "must be non-empty text")
        values[key] = raw.strip()
    for key in ("url", "kind", "token"):
        if key not in values:
            raise _bad(file_path, f"{where}.{key}", "is required")
    url = values["url"].rstrip("/")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise _bad(file_path, f"{where}.url", "must be an http(s):// address")
    kind = values["kind"].lower()
    if kind not in KINDS:
        raise _bad(file_path, f"{where}.kind", f"must be one of {', '.join(KINDS)}")
    api_url = values.get("api_url") or _DEFAULT_API.get(url) or _default_api(kind, url)
    if urlsplit(api_url).scheme not in ("http", "https") or not urlsplit(api_url).hostname:
        raise _bad(file_path, f"{where}.api_url", "must be an http(s):// address")
    return ForgeEntry(
        url, "github" if kind == "github" else "gitlab", api_url.rstrip("/"), values["token"]
    )


def _default_api(kind: str, url: str) -> str:
    # GitHub Enterprise Server serves its API under /api/v3; GitLab under /api/v4.
    return f"{url}/api/v3" if kind == "github" else f"{url}/api/v4"


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def _bad(file_path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{file_path}: {key} {problem}", {"path": str(file_path), "key": key})

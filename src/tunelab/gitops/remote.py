"""A repository's address, as a project links it: checked before git ever sees it.

Three kinds::

    https://host[:port]/path(.git)    http(s): credentials from a [[git]] entry, never in the URL
    ssh://[user@]host[:port]/path     ssh, and the scp form user@host:path
    /srv/repos/project.git            a path on the server's own disk (file:// too): admins only

Anything else (``ext::``, ``fd::``, a leading ``-`` that git would read as an option, a URL
carrying a password) is refused with InvalidInput.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from tunelab.errors import InvalidInput

MAX_URL = 2048
Kind = Literal["http", "ssh", "local"]

# A host never starts with '-' (ssh would read it as an option).
_SCP = re.compile(r"(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.][A-Za-z0-9.-]*):(?P<path>\S+)")
_HOST = re.compile(r"[A-Za-z0-9.][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]")


@dataclass(frozen=True)
class Remote:
    """A checked address: ``url`` as git is given it, ``host`` (lower case, ``host:port``
    where it names a port) for picking credentials; None for a local path."""

    url: str
    kind: Kind
    host: str | None


def parse_remote(raw: str) -> Remote:
    url = raw.strip()
    if not url:
        raise InvalidInput("a repository URL is required")
    if len(url) > MAX_URL:
        raise InvalidInput(f"a repository URL is at most {MAX_URL} characters")
    if any(ord(c) < 32 or c == "\x7f" for c in url):
        raise InvalidInput("a repository URL holds no control characters")
    if url.startswith("-"):
        raise InvalidInput("a repository URL cannot start with '-'")
    if url.startswith("/"):
        return Remote(url, "local", None)
    if url.startswith("file://"):
        path = url[len("file://") :]
        if not path.startswith("/"):
            raise InvalidInput("a file:// repository URL names an absolute path")
        return Remote(path, "local", None)
    scp = _SCP.fullmatch(url)
    if scp and "://" not in url:
        return Remote(url, "ssh", scp["host"].lower())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ssh"):
        raise InvalidInput(
            "a repository URL is https://…, ssh://…, user@host:path or an absolute path "
            "on the server"
        )
    hostname = parts.hostname or ""
    if not hostname or not _HOST.fullmatch(hostname.strip("[]") if ":" in hostname else hostname):
        raise InvalidInput(f"{scheme}:// URL without a valid host")
    if parts.password is not None or (scheme != "ssh" and parts.username is not None):
        raise InvalidInput(
            "a repository URL carries no credentials: the server's [[git]] settings hold them"
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput("the repository URL's port is not a number") from None
    if not parts.path.strip("/"):
        raise InvalidInput("the repository URL names no repository path")
    host = hostname.lower() + (f":{port}" if port else "")
    return Remote(url, "ssh" if scheme == "ssh" else "http", host)

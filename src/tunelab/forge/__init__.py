"""Forges: the GitHub and GitLab APIs a server uses for a linked repository.

Configured in the server's config file (see ``tunelab.forge.config``)::

    [[forge]]
    url = "https://github.com"
    kind = "github"
    token = "..."

Example::

    from tunelab.forge import forge_for
    client = forge_for(settings, "https://github.com/team/repo.git")  # None: no forge for it
    url = client.open_pull_request(repo_url, head="tunelab/abc-1", base="main", title="...")
    client.dispatch_workflow(repo_url, workflow="tunelab.yml", ref="main",
                             inputs={"task_id": task_id})

Every failure is a ``ForgeError`` with the forge's own message; the token never appears in
one.
"""

from __future__ import annotations

from typing import Any

import httpx

from tunelab.errors import ForgeError
from tunelab.forge.client import ForgeClient
from tunelab.forge.config import ForgeEntry, Forges, load_forges, repository_location
from tunelab.forge.github import GitHubClient
from tunelab.forge.gitlab import GitLabClient

__all__ = [
    "ForgeClient",
    "ForgeEntry",
    "ForgeError",
    "Forges",
    "GitHubClient",
    "GitLabClient",
    "client_for",
    "forge_for",
    "load_forges",
    "repository_location",
]


def client_for(entry: ForgeEntry, transport: httpx.BaseTransport | None = None) -> ForgeClient:
    if entry.kind == "github":
        return GitHubClient(entry, transport)
    return GitLabClient(entry, transport)


def forge_for(
    settings: Any, repository_url: str, *, forges: Forges | None = None
) -> ForgeClient | None:
    """The client for the forge hosting ``repository_url``, or None when the config file
    has no ``[[forge]]`` entry for it.

    ``settings`` is the server's (``ServerSettings``); the entries are read from the config
    file as the ``[[git]]`` credentials are, on each call, so an edit needs no restart. A
    ``Forges`` given as ``settings`` or ``forges`` is used instead of the file."""
    if forges is None:
        forges = settings if isinstance(settings, Forges) else load_forges()
    entry = forges.for_repository(repository_url)
    return client_for(entry) if entry is not None else None

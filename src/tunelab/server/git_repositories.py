"""The server's side of linked repositories: who may link which address, the mirrors under
the data directory, and bringing them all up to date from the upkeep loop.

A local path is a directory on the server's own disk: like a local file (``uri_access``), an
admin only, and only where the server serves local files (TUNELAB_SERVE_LOCAL_FILES).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import Principal
from tunelab.errors import Forbidden, TunelabError
from tunelab.gitops.credentials import load_git_credentials
from tunelab.gitops.mirror import GitMirrors
from tunelab.gitops.remote import Remote, parse_remote
from tunelab.server.settings import ServerSettings
from tunelab.server.uri_access import SERVE_LOCAL_FILES
from tunelab.store import repositories

log = logging.getLogger("tunelab.server.git_repositories")

# The upkeep fetches every mirror this often (pages and the API fetch on demand as well).
SYNC_EVERY = 300.0


def mirrors_for(settings: ServerSettings) -> GitMirrors:
    return GitMirrors(settings.data_dir / "repos", load_git_credentials())


def require_may_link(principal: Principal, remote: Remote, settings: ServerSettings) -> None:
    if remote.kind != "local":
        return
    where = f"{remote.url} is a directory on the server's own disk"
    if not principal.is_admin:
        raise Forbidden(f"{where}: only an admin may link a local repository")
    if not settings.local_files_served:
        raise Forbidden(
            f"{where}: this server opens no files on its own disk ({SERVE_LOCAL_FILES}=on "
            "lets it do so for admins)"
        )


def described(link: dict[str, Any], mirrors: GitMirrors) -> dict[str, Any]:
    """A link as the API answers it: what is stored, its kind, when its mirror was fetched."""
    remote = parse_remote(link["url"])
    return {**link, "kind": remote.kind, "last_fetched": mirrors.last_fetched(link["project_id"])}


def sync_all(engine: sa.Engine, mirrors: GitMirrors) -> int:
    """Fetch every linked repository's mirror; one failing is logged, the others go on."""
    with engine.begin() as conn:
        links = repositories.all_repositories(conn)
    synced = 0
    for link in links:
        try:
            mirrors.sync(link["project_id"], parse_remote(link["url"]))
            synced += 1
        except TunelabError as exc:
            log.warning("repository of project %s not fetched: %s", link["project_id"], exc)
    return synced

"""Whether the server may open or delete the file a record's URI names, for whom.

A record's URI (an artifact's, a model's) is written by a user, so the server never takes it
at its word: it reads or deletes the location only for a caller allowed to, by the kind of
location (README, "Users and access")::

    /path, file:///path     a file on the server's own disk: an admin only, and only where
                            the server serves local files (TUNELAB_SERVE_LOCAL_FILES; off
                            by default with login). Otherwise it lives on the machine that
                            wrote it, as far as the server is concerned.
    tunelab://key           the server's own store: as ``/api/v1/files/{key}`` would allow
                            (``access.require_file_key``).
    s3://, gs://, azure://  only at a destination the server's admin configured: a
                            ``[[storage.*]]`` entry of its config file, or a prefix in
                            TUNELAB_STORAGE_ALLOW. Anything else (any host and port a URI
                            may name) is never connected to, nor signed for. Inside the
                            server's own file store (TUNELAB_FILE_STORE in a bucket): an
                            admin only; everyone else names those files tunelab://key.

Example::

    policy = UriPolicy.of(request.app)
    require_uri(conn, principal, artifact["uri"], access.READ, policy)   # raises if not
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import Principal, Role
from tunelab.errors import Forbidden
from tunelab.server import access
from tunelab.storage import Destination, StorageCredentials, parse_destination

SERVE_LOCAL_FILES = "TUNELAB_SERVE_LOCAL_FILES"
STORAGE_ALLOW = "TUNELAB_STORAGE_ALLOW"


@dataclass(frozen=True)
class UriPolicy:
    """What the server's admin allowed: local files, and the object stores (their
    ``[[storage.*]]`` entries and the ``allow`` prefixes, normalized URIs)."""

    local_files: bool
    allow: tuple[str, ...]
    credentials: StorageCredentials
    # The server's own file store when it is in an object store (its URI), else None.
    file_store: str | None = None

    @classmethod
    def of(cls, app: Any) -> UriPolicy:
        settings = app.state.settings
        return cls(
            local_files=settings.local_files_served,
            allow=settings.storage_allow,
            credentials=app.state.storage.credentials,
            file_store=settings.file_store if "://" in (settings.file_store or "") else None,
        )

    def in_file_store(self, dest: Destination) -> bool:
        """Whether ``dest`` is inside the server's own file store in an object store (by
        scheme, bucket and prefix, whatever endpoint the URI names)."""
        if self.file_store is None:
            return False
        store = parse_destination(self.file_store)
        if store.scheme != dest.scheme or store.bucket != dest.bucket:
            return False
        prefix = store.key.rstrip("/")
        return not prefix or dest.key == prefix or dest.key.startswith(prefix + "/")

    def allows(self, dest: Destination) -> bool:
        """Whether ``dest`` (an object-store URI) is at a configured destination."""
        if any(dest.uri == p or dest.uri.startswith(p.rstrip("/") + "/") for p in self.allow):
            return True
        if dest.scheme == "s3":
            # An entry names its endpoint exactly: one without a host is for AWS itself,
            # never a licence to sign requests to whatever host:port a URI names.
            endpoint = dest.endpoint.lower() if dest.endpoint else None
            return any(
                e.host == endpoint and e.bucket in (None, dest.bucket) for e in self.credentials.s3
            )
        if dest.scheme == "gs":
            return any(e.bucket in (None, dest.bucket) for e in self.credentials.gs)
        if dest.scheme == "azure":
            return any(
                e.account_name == dest.account and e.container in (None, dest.bucket)
                for e in self.credentials.azure
            )
        return False

    def destinations(self) -> list[str]:
        """The configured destinations, as URIs a person can read (``*``: any)."""
        shown = [f"{p.rstrip('/')}/…" for p in self.allow]
        for s3 in self.credentials.s3:
            where = "/".join(x for x in (s3.host, s3.bucket or "*") if x)
            shown.append(f"s3://{where}" + ("" if s3.host else " (AWS)"))
        shown += [f"gs://{gs.bucket or '*'}" for gs in self.credentials.gs]
        shown += [
            f"azure://{az.account_name}.blob.core.windows.net/{az.container or '*'}"
            for az in self.credentials.azure
        ]
        return shown


def require_uri(
    conn: sa.Connection | None,
    principal: Principal,
    uri: str,
    need: Role,
    policy: UriPolicy,
    *,
    changed_tasks: Collection[str] = (),
) -> Destination:
    """The parsed ``uri`` when ``principal`` may have the server read (``need`` READ) or
    delete (WRITE) it; Forbidden saying why otherwise, InvalidInput for a malformed URI.

    ``conn`` is needed for ``tunelab://`` keys only (``needs_store``). ``changed_tasks``
    are tasks this request was already allowed to change (and may have deleted): keys
    naming them need no lookup.
    """
    dest = parse_destination(uri)
    if dest.scheme == "file":
        _require_local(principal, dest, policy)
    elif dest.scheme == "tunelab":
        # An admin may touch every key (as on /api/v1/files), even one whose task is gone.
        task_id = access.task_in_key(dest.path)
        if not principal.is_admin and (task_id is None or task_id not in changed_tasks):
            if conn is None:
                raise ValueError("a tunelab:// key is checked against the store: pass conn")
            access.require_file_key(conn, principal, dest.path, need)
    elif not principal.is_admin and policy.in_file_store(dest):
        # Its objects are tunelab:// keys: reached by their bucket name, they would skip
        # the check of their project.
        raise Forbidden(
            f"{dest.uri} is in the server's own file store: name the file by its "
            "tunelab:// key, which is checked against its project"
        )
    elif not policy.allows(dest):
        allowed = policy.destinations()
        listed = ", ".join(allowed) if allowed else "none are configured"
        raise Forbidden(
            f"the server reads and deletes files only in the object stores its admin "
            f"configured ([[storage.*]] entries of its config file, {STORAGE_ALLOW}): "
            f"{listed}; {dest.uri} is in none of them"
        )
    return dest


def needs_store(uri: str) -> bool:
    """Whether checking ``uri`` looks up the store (a key of the server's own store)."""
    return uri.lower().startswith("tunelab://")


def _require_local(principal: Principal, dest: Destination, policy: UriPolicy) -> None:
    where = f"{dest.uri} is a file on the machine that wrote it"
    if not principal.is_admin:
        raise Forbidden(f"{where}: only an admin may have the server open files on its own disk")
    if not policy.local_files:
        raise Forbidden(
            f"{where}: this server opens no files on its own disk ({SERVE_LOCAL_FILES}=on "
            "lets it do so for admins)"
        )

"""Deleting stored files once the records that named them are gone.

Called after the store's transaction has committed: the records are deleted for good
whatever happens to the files. Each file is deleted only when the caller may have the
server delete it (``server.uri_access``: its own project's keys, configured object stores,
local paths for admins where allowed); a refused one, or one that cannot be deleted
(storage refused, a URI no back end understands), is reported in ``failed_files`` with the
reason and undoes nothing; its owner can delete it by hand. A file already gone counts as
deleted.

Example::

    files = await in_transaction(request, lifecycle.delete, task_id)
    answer = {"deleted": task_id, **await delete_files(request, files, changed_tasks=[task_id])}
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tunelab.domain.access import Principal
from tunelab.errors import TunelabError
from tunelab.server import access
from tunelab.server.authorize import current_principal
from tunelab.server.db_gate import run_db
from tunelab.server.uri_access import UriPolicy, needs_store, require_uri
from tunelab.storage import StorageContext, delete

log = logging.getLogger("tunelab.server")


async def delete_files(
    request: Request, uris: Sequence[str], *, changed_tasks: Collection[str] = ()
) -> dict[str, list[Any]]:
    """``{"deleted_files": [uri, ...], "failed_files": [{"uri", "error"}, ...]}``.

    ``changed_tasks``: the tasks this request was allowed to change and has deleted, whose
    keys no longer name a task to check against (their files are the caller's to delete).
    """
    if not uris:
        return {"deleted_files": [], "failed_files": []}
    principal = current_principal(request)
    policy = UriPolicy.of(request.app)
    if any(needs_store(uri) for uri in uris):
        engine: sa.Engine = request.app.state.engine
        refused = await run_db(
            request, _refusals_in_store, engine, principal, uris, policy, changed_tasks
        )
    else:
        refused = _refusals(None, principal, uris, policy, changed_tasks)
    storage: StorageContext = request.app.state.storage
    return await run_in_threadpool(_delete_all, storage, uris, refused)


def _refusals_in_store(
    engine: sa.Engine,
    principal: Principal,
    uris: Sequence[str],
    policy: UriPolicy,
    changed_tasks: Collection[str],
) -> dict[str, str]:
    with engine.begin() as conn:
        return _refusals(conn, principal, uris, policy, changed_tasks)


def _refusals(
    conn: sa.Connection | None,
    principal: Principal,
    uris: Sequence[str],
    policy: UriPolicy,
    changed_tasks: Collection[str],
) -> dict[str, str]:
    """The URIs the principal may not have the server delete, each with the reason."""
    refused: dict[str, str] = {}
    for uri in uris:
        try:
            require_uri(conn, principal, uri, access.WRITE, policy, changed_tasks=changed_tasks)
        except TunelabError as exc:
            # InvalidInput (a URI no back end understands), Forbidden, NotFound (a key of a
            # task gone); the messages name the file and never a credential.
            refused[uri] = exc.message
    return refused


def _delete_all(
    storage: StorageContext, uris: Sequence[str], refused: dict[str, str]
) -> dict[str, list[Any]]:
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for uri in uris:
        if uri in refused:
            failed.append({"uri": uri, "error": refused[uri]})
            continue
        try:
            delete(uri, storage)
        except TunelabError as exc:
            # StorageError; its message names the file and never a credential.
            failed.append({"uri": uri, "error": exc.message})
        except Exception:
            # Anything else is a fault to look into, not a reason to fail an answer whose
            # records are already deleted; its text stays in the log (it may hold details
            # of the storage account).
            log.exception("deleting %s failed", uri)
            failed.append(
                {"uri": uri, "error": "the file could not be deleted; see the server's log"}
            )
        else:
            deleted.append(uri)
    return {"deleted_files": deleted, "failed_files": failed}

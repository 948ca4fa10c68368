"""Deleting stored files once the records that named them are gone.

Called after the store's transaction has committed: the records are deleted for good
whatever happens to the files. A file that cannot be deleted (storage refused, a URI no back
end understands) is reported in ``failed_files`` and undoes nothing; its owner can delete it
by hand. A file already gone counts as deleted.

Example::

    files = await in_transaction(request, lifecycle.delete, task_id)
    answer = {"deleted": task_id, **await run_in_threadpool(delete_files, request, files)}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from tunelab.errors import TunelabError
from tunelab.storage import delete

log = logging.getLogger("tunelab.server")

LOCAL_FILES_ADMIN_ONLY = (
    "only an admin may have the server delete files on its own disk; delete it by hand"
)


def delete_files(request: Request, uris: Sequence[str]) -> dict[str, list[Any]]:
    """``{"deleted_files": [uri, ...], "failed_files": [{"uri", "error"}, ...]}``."""
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    if not uris:
        return {"deleted_files": deleted, "failed_files": failed}
    storage = request.app.state.storage
    principal = getattr(request.state, "principal", None)
    for uri in uris:
        if _local_path(uri) and not (principal is None or principal.is_admin):
            # A record may name any path on the server's machine; with several accounts only
            # an admin may have the server delete one (object stores and the server's own
            # store are fine: credentials and keys scope them).
            failed.append({"uri": uri, "error": LOCAL_FILES_ADMIN_ONLY})
            continue
        try:
            delete(uri, storage)
        except TunelabError as exc:
            # InvalidInput (a URI no back end understands) or StorageError; their messages
            # name the file and never a credential.
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


def _local_path(uri: str) -> bool:
    """A plain path or file:// URI: a file on the server's own disk, outside its store."""
    scheme = uri.partition("://")[0] if "://" in uri else ""
    return scheme in ("", "file")

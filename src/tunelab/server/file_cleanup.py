"""Deleting stored files once the records that named them are gone.

Called after the store's transaction has committed: the records are deleted for good
whatever happens to the files. A file that cannot be deleted (storage refused, a URI no back
end understands) is reported in ``failed_files`` and undoes nothing; its owner can delete it
by hand. A file already gone counts as deleted.

Example::

    with request.app.state.engine.begin() as conn:
        files = lifecycle.delete(conn, task_id)
    answer = {"deleted": task_id, **delete_files(request, files)}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from tunelab.errors import TunelabError
from tunelab.storage import delete

log = logging.getLogger("tunelab.server")


def delete_files(request: Request, uris: Sequence[str]) -> dict[str, list[Any]]:
    """``{"deleted_files": [uri, ...], "failed_files": [{"uri", "error"}, ...]}``."""
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    if not uris:
        return {"deleted_files": deleted, "failed_files": failed}
    storage = request.app.state.storage
    for uri in uris:
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

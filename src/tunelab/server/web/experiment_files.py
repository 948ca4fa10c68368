"""Downloads of artifacts and models stored outside the server's own file store.

``tunelab://`` files download from ``/api/v1/files``; a file at any other URI (a shared
folder, S3, GCS, Azure) is read here with the server's storage context and streamed to the
browser in chunks, never held whole in memory. Only where the caller may have the server
read it (``server.uri_access``): a file on the server's disk is an admin's, and only where
local files are served; an object store must be one the admin configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tunelab.domain.access import Principal
from tunelab.errors import InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.security_headers import user_file_headers
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import StorageContext, open_file
from tunelab.store import artifacts, models

router = APIRouter(include_in_schema=False)

_CHUNK = 1024 * 1024


@router.get("/experiments/{task_id}/artifacts/{name}/download")
def download_artifact(
    task_id: str, name: str, request: Request, conn: Conn, who: Who
) -> StreamingResponse:
    artifact = artifacts.get_artifact(conn, task_id, name)
    return _stream(conn, who, request, artifact["uri"], what=f"artifact {name!r}")


@router.get("/models/{model_id}/download")
def download_model(model_id: str, request: Request, conn: Conn, who: Who) -> StreamingResponse:
    model = models.get_model(conn, model_id)
    return _stream(conn, who, request, model["uri"], what=f"model {model['name']!r}")


def _stream(
    conn: sa.Connection, who: Principal, request: Request, uri: str, *, what: str
) -> StreamingResponse:
    if not uri:
        raise NotFound(f"{what} has no file (its URI is empty)")
    # The URI is the record writer's word: opened only where the caller may read it.
    dest = require_uri(conn, who, uri, access.READ, UriPolicy.of(request.app))
    if not dest.key and dest.scheme != "file":
        raise InvalidInput(f"{what} names a bucket, not a file: {uri}")
    ctx: StorageContext = request.app.state.storage
    try:
        handle, size = open_file(uri, ctx)
    except NotFound:
        raise NotFound(f"the file of {what} is gone: nothing at {uri}") from None
    filename = dest.path.rstrip("/").rsplit("/", 1)[-1] or "download"
    headers = user_file_headers(filename)
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(
        _chunks(handle), media_type="application/octet-stream", headers=headers
    )


def _chunks(handle: Any) -> Iterator[bytes]:
    # A plain iterator: Starlette runs it in a worker thread, so a slow store blocks no one.
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk

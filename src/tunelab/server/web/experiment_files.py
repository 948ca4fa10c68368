"""Downloads of artifacts and models stored outside the server's own file store.

``tunelab://`` files download from ``/api/v1/files``; a file at any other URI (a shared
folder, S3, GCS, Azure) is read here with the server's storage context and streamed to the
browser in chunks, never held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tunelab.errors import InvalidInput, NotFound, StorageError
from tunelab.server.api.deps import Conn
from tunelab.storage import StorageContext, filesystem, parse_destination
from tunelab.store import artifacts, models

router = APIRouter(include_in_schema=False)

_CHUNK = 1024 * 1024


@router.get("/experiments/{task_id}/artifacts/{name}/download")
def download_artifact(task_id: str, name: str, request: Request, conn: Conn) -> StreamingResponse:
    artifact = artifacts.get_artifact(conn, task_id, name)
    return _stream(artifact["uri"], request.app.state.storage, what=f"artifact {name!r}")


@router.get("/models/{model_id}/download")
def download_model(model_id: str, request: Request, conn: Conn) -> StreamingResponse:
    model = models.get_model(conn, model_id)
    return _stream(model["uri"], request.app.state.storage, what=f"model {model['name']!r}")


def _stream(uri: str, ctx: StorageContext, *, what: str) -> StreamingResponse:
    if not uri:
        raise NotFound(f"{what} has no file (its URI is empty)")
    dest = parse_destination(uri)
    if not dest.key and dest.scheme != "file":
        raise InvalidInput(f"{what} names a bucket, not a file: {uri}")
    fs, path = filesystem(uri, ctx)
    try:
        handle = fs.open(path, "rb")
    except FileNotFoundError:
        raise NotFound(f"the file of {what} is gone: nothing at {uri}") from None
    except OSError as exc:
        raise StorageError(f"cannot read the file of {what} at {uri}: {exc}") from None
    filename = dest.path.rstrip("/").rsplit("/", 1)[-1] or "download"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}
    size = _size(fs, path)
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


def _size(fs: Any, path: str) -> int | None:
    try:
        size = fs.size(path)
    except (OSError, NotImplementedError):
        return None
    return int(size) if size is not None else None

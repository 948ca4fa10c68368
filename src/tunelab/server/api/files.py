"""The server's file store (``tunelab://``): whole files, multi-part uploads, reads, deletes.

Bodies are streamed to the store (its folder, or its object store) as they arrive, hashed
on the way, never held whole in memory; reads are streamed back, byte ranges included.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from tunelab.errors import InvalidInput
from tunelab.server.api.object_download import object_response
from tunelab.server.file_store import MAX_PARTS, FileStore, FileWriter, StoredKey
from tunelab.server.security_headers import user_file_headers

router = APIRouter(tags=["files"])

# Received chunks are gathered to this size before a disk write (in a worker thread).
_WRITE_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _store(request: Request) -> FileStore:
    store: FileStore = request.app.state.file_store
    return store


Store = Annotated[FileStore, Depends(_store)]


class UploadComplete(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    parts: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]


@router.put("/files/{key:path}", status_code=status.HTTP_201_CREATED)
async def put_file(
    key: str,
    request: Request,
    store: Store,
    sha256: Annotated[str | None, Header(alias="X-Tunelab-Sha256")] = None,
) -> dict[str, object]:
    expected = _checked_sha256(sha256) if sha256 is not None else None
    writer = await run_in_threadpool(store.writer, key, _announced_length(request))
    stored = await _receive(request, writer, expected)
    return stored.as_json()


_FILE_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {}}}}


# GET and HEAD as two routes: one route for both gave the OpenAPI document two operations
# with the same operationId.
@router.get("/files/{key:path}", response_class=FileResponse, responses=_FILE_ANSWER)
def get_file(key: str, request: Request, store: Store) -> Response:
    # Whatever the file holds (an HTML debug sample, an upload), the browser downloads it or
    # shows it in a sandbox: it never runs as a page of the server.
    headers = user_file_headers(key.rsplit("/", 1)[-1])
    found = store.read(key)
    if isinstance(found, Path):
        return FileResponse(found, media_type="application/octet-stream", headers=headers)
    return object_response(found, request, headers)


@router.head("/files/{key:path}", response_class=FileResponse, responses=_FILE_ANSWER)
def head_file(key: str, request: Request, store: Store) -> Response:
    return get_file(key, request, store)


@router.delete("/files/{key:path}", status_code=status.HTTP_204_NO_CONTENT)
def delete_file(key: str, store: Store) -> Response:
    store.delete(key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/files/{key:path}/uploads", status_code=status.HTTP_201_CREATED)
def start_upload(key: str, store: Store) -> dict[str, str]:
    return {"upload_id": store.start_upload(key)}


@router.put("/uploads/{upload_id}/parts/{number}")
async def put_part(upload_id: str, number: int, request: Request, store: Store) -> dict[str, int]:
    writer = await run_in_threadpool(store.part_writer, upload_id, number)
    stored = await _receive(request, writer)
    return {"part": number, "size": stored.size}


@router.post("/uploads/{upload_id}/complete", status_code=status.HTTP_201_CREATED)
def complete_upload(upload_id: str, body: UploadComplete, store: Store) -> dict[str, object]:
    stored = store.complete_upload(upload_id, body.parts, body.size, body.sha256.lower())
    return stored.as_json()


@router.delete("/uploads/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
def abort_upload(upload_id: str, store: Store) -> Response:
    store.abort_upload(upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _receive(request: Request, writer: FileWriter, expected: str | None = None) -> StoredKey:
    """Stream the request body into ``writer``; anything short of a commit leaves no file."""
    try:
        pending: list[bytes] = []
        gathered = 0
        async for chunk in request.stream():
            pending.append(chunk)
            gathered += len(chunk)
            if gathered >= _WRITE_CHUNK:
                await run_in_threadpool(writer.write, b"".join(pending))
                pending, gathered = [], 0
        if pending:
            await run_in_threadpool(writer.write, b"".join(pending))
        return await run_in_threadpool(writer.commit, expected)
    except BaseException:
        writer.abort()
        raise


def _announced_length(request: Request) -> int | None:
    length = request.headers.get("content-length", "")
    return int(length) if length.isascii() and length.isdigit() else None


def _checked_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise InvalidInput("X-Tunelab-Sha256 must be 64 hexadecimal digits")
    return value.lower()

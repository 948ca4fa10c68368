"""A file of an object-store file store, streamed to the client: whole, or one byte range.

What ``FileResponse`` does for a file on disk, for an object: ``Accept-Ranges``, a single
``Range: bytes=...`` answered with 206 and ``Content-Range`` (the SDK reads files at random
through them), 416 for a range past the end, ``If-Range`` against the object's ETag. A
request for several ranges is answered with the whole file, as HTTP allows. The object is
read in blocks and sent as it is read, never held whole in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from tunelab.server.file_store import StoredObject

_CHUNK = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _Unsatisfiable(Exception):
    pass


def object_response(found: StoredObject, request: Request, headers: dict[str, str]) -> Response:
    """The answer to a GET or HEAD of ``found``, with ``headers`` added."""
    headers = {**headers, "Accept-Ranges": "bytes"}
    if found.etag:
        headers["ETag"] = found.etag
    try:
        span = _requested_range(request, found)
    except _Unsatisfiable:
        return PlainTextResponse(
            "the range starts past the end of the file",
            status_code=416,
            headers={"Content-Range": f"bytes */{found.size}"},
        )
    start, end = span if span is not None else (0, found.size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{found.size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return StreamingResponse(
        _chunks(found.open(), start, end - start),
        status_code=status,
        media_type="application/octet-stream",
        headers=headers,
    )


def _requested_range(request: Request, found: StoredObject) -> tuple[int, int] | None:
    """``(start, end)``, end exclusive, of the one range asked for; None for the whole file
    (no Range, one this does not serve, or an If-Range for another version)."""
    asked = request.headers.get("range")
    if asked is None:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range != found.etag:
        return None
    match = _RANGE.fullmatch(asked.strip().replace(" ", ""))
    if match is None or (not match[1] and not match[2]):
        return None
    size = found.size
    if not match[1]:  # bytes=-N: the last N bytes
        last = int(match[2])
        if last == 0:
            raise _Unsatisfiable
        return max(0, size - last), size
    start = int(match[1])
    end = size if not match[2] else min(size, int(match[2]) + 1)
    if start >= size:
        raise _Unsatisfiable
    if end <= start:
        return None
    return start, end


def _chunks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    # A plain iterator: Starlette runs it in a worker thread, so a slow store blocks no one.
    with handle:
        if start:
            handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

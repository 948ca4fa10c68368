"""The file of a debug sample, for the Debug Samples tab: images, audio and video shown in
the page, HTML in a sandboxed iframe, anything else downloaded.

A sample's file is user content and never a page of the server's origin: every answer
carries a ``sandbox`` Content-Security-Policy (an opaque origin: no cookies, no API of the
server, whatever the file holds). HTML may run its own scripts there (plots made of
JavaScript), in the iframe of the server's page only (``frame-ancestors 'self'``); an image,
audio or video is sent with its own type (the tab's ``<img>``, ``<audio>`` and ``<video>``
need it), anything else, or a type that does not match the sample's kind, as a download.

The record's URI is its writer's word: the file is read only where the caller may have the
server read it (``server.uri_access``), as artifact downloads are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from tunelab.errors import InvalidInput, NotFound
from tunelab.server import access
from tunelab.server.api.deps import Conn, Who
from tunelab.server.api.object_download import object_response
from tunelab.server.file_store import FileStore
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import StorageContext, open_file
from tunelab.store.debug_samples import StoredSample, read_sample

router = APIRouter(include_in_schema=False)

_CHUNK = 1024 * 1024
# Media and images: shown, nothing in them runs.
MEDIA_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# HTML: its own scripts and styles (inline or from the web) in an opaque origin; it reaches
# nothing of the server (no connect-src) and is framed only by the server's own page.
HTML_POLICY = "; ".join(
    (
        "sandbox allow-scripts allow-popups",
        "default-src 'none'",
        "script-src 'unsafe-inline' 'unsafe-eval' https: data: blob:",
        "style-src 'unsafe-inline' https: data:",
        "img-src data: blob: https:",
        "font-src data: https:",
        "media-src data: blob: https:",
        "frame-ancestors 'self'",
    )
)
_SHOWN = ("image", "audio", "video")


@router.get("/experiments/{task_id}/debug_samples/file")
def debug_sample_file(
    task_id: str,
    request: Request,
    conn: Conn,
    who: Who,
    title: Annotated[str, Query(min_length=1, max_length=512)],
    series: Annotated[str, Query(min_length=1, max_length=512)],
    iteration: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
) -> Response:
    sample = read_sample(conn, task_id, title, series, iteration)
    what = f"debug sample {title!r}/{series!r} at iteration {sample.iteration}"
    if sample.external:
        raise InvalidInput(f"{what} is a link to {sample.uri}; open it there")
    dest = require_uri(conn, who, sample.uri, access.READ, UriPolicy.of(request.app))
    media_type, headers = _answer_headers(sample, dest.path.rstrip("/").rsplit("/", 1)[-1])
    if dest.scheme == "tunelab":
        store: FileStore = request.app.state.file_store
        found = store.read(dest.path)
        if isinstance(found, Path):
            return FileResponse(found, media_type=media_type, headers=headers)
        return object_response(found, request, {**headers, "Content-Type": media_type})
    if not dest.key and dest.scheme != "file":
        raise InvalidInput(f"{what} names a bucket, not a file: {sample.uri}")
    ctx: StorageContext = request.app.state.storage
    try:
        handle, size = open_file(sample.uri, ctx)
    except NotFound:
        raise NotFound(f"the file of {what} is gone: nothing at {sample.uri}") from None
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(_chunks(handle), media_type=media_type, headers=headers)


def _answer_headers(sample: StoredSample, filename: str) -> tuple[str, dict[str, str]]:
    """The media type and headers the sample's file is sent with."""
    mime = sample.mime.split(";", 1)[0].strip().lower()
    name = f"filename*=UTF-8''{quote(filename or 'sample', safe='')}"
    if sample.kind in _SHOWN and mime.startswith(sample.kind + "/"):
        policy, media_type, disposition = MEDIA_POLICY, mime, "inline"
    elif sample.kind == "html" and mime == "text/html":
        policy, media_type, disposition = HTML_POLICY, "text/html; charset=utf-8", "inline"
    else:
        policy, media_type, disposition = MEDIA_POLICY, "application/octet-stream", "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; {name}",
        "Content-Security-Policy": policy,
        "Cache-Control": "private, max-age=60",
    }
    if policy is HTML_POLICY:
        # The tab frames HTML samples; every other answer of the server says DENY.
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return media_type, headers


def _chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk

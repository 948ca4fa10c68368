"""Data files uploaded for a run from a repository, before the run's task exists.

The Run form uploads a replacement for a repository file first (``PUT
/api/v1/projects/{id}/git-runs/uploads``); the server streams it into its file store under
``git-run-uploads/<project id>/<upload id>/content`` and answers the upload's id with its
size and sha256. The name the browser sent is never part of a key: it is only echoed back,
cleaned. Creating the run moves the content under the new task's own folder
(``<project>/<task name>.<task id>/git-run/<repository path>``), where the task's key and
its project's members may read it like any of the task's files, and records that
``tunelab://`` URI with the sha256 and size the server measured.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from tunelab.errors import InvalidInput, NotFound, PayloadTooLarge, StorageError
from tunelab.server.file_store import FileStore, StoredKey

STAGING = "git-run-uploads"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WRITE_CHUNK = 1024 * 1024
_COPY_CHUNK = 4 * 1024 * 1024
MAX_NAME_LENGTH = 255
log = logging.getLogger(__name__)
# Uploads no run used within this long are abandoned (a closed form); the project's next
# upload clears them away.
ABANDONED_AFTER = 24 * 3600


@dataclass(frozen=True)
class StagedUpload:
    upload: str
    name: str
    size: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        return {"upload": self.upload, "name": self.name, "size": self.size, "sha256": self.sha256}


def staging_key(project_id: str, upload: str) -> str:
    if not _UPLOAD_ID.fullmatch(upload):
        raise InvalidInput(f"{upload[:80]!r} is not an upload id this server gave")
    if not project_id.isalnum():
        raise InvalidInput("not a project id")
    return f"{STAGING}/{project_id}/{upload}/content"


def clean_name(name: str) -> str:
    """The sent file name as shown back: its last part, safe characters only."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", last).strip("._")[:MAX_NAME_LENGTH]
    return cleaned or "upload"


async def stage_upload(
    store: FileStore, project_id: str, name: str, body: AsyncIterator[bytes], limit: int
) -> StagedUpload:
    """Stream ``body`` into the store (at most ``limit`` bytes, else PayloadTooLarge and
    nothing kept)."""
    upload = secrets.token_hex(16)
    key = staging_key(project_id, upload)
    try:
        await run_in_threadpool(store.drop_stale, key.rsplit("/", 2)[0], ABANDONED_AFTER)
    except StorageError:
        log.exception("could not clear the abandoned data file uploads of %s", project_id)
    writer = await run_in_threadpool(store.writer, key)
    try:
        pending: list[bytes] = []
        gathered = total = 0
        async for chunk in body:
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"a data file is at most {limit} bytes on this server")
            pending.append(chunk)
            gathered += len(chunk)
            if gathered >= _WRITE_CHUNK:
                await run_in_threadpool(writer.write, b"".join(pending))
                pending, gathered = [], 0
        if pending:
            await run_in_threadpool(writer.write, b"".join(pending))
        stored = await run_in_threadpool(writer.commit, None)
    except BaseException:
        writer.abort()
        raise
    return StagedUpload(upload, clean_name(name), stored.size, stored.sha256)


def move_upload(store: FileStore, project_id: str, upload: str, key: str) -> StoredKey:
    """Copy a staged upload to ``key`` and drop the staged copy; NotFound for an upload id
    this project never got (or one already used)."""
    source = staging_key(project_id, upload)
    try:
        found = store.read(source)
    except NotFound:
        raise NotFound(f"no upload {upload!r} for this project (or it was used already)") from None
    writer = store.writer(key)
    try:
        with found.open("rb") if isinstance(found, Path) else found.open() as handle:
            while chunk := handle.read(_COPY_CHUNK):
                writer.write(chunk)
        stored = writer.commit(None)
    except BaseException:
        writer.abort()
        raise
    store.delete(source)
    return stored

"""The server's file store in an object store: ``<prefix>/files/<key>`` in a bucket.

``tunelab server --file-store s3://host:port/bucket/prefix`` (or ``gs://``, ``azure://``)
puts every ``tunelab://`` file there, so any number of replicas share one store without a
shared disk. The bucket is reached through fsspec with the server's own credentials (the
``[[storage.*]]`` entries of its config file, or the back end's environment variables);
clients only ever talk to the server, never to the bucket.

A file is written as it arrives (one block of ``_BLOCK`` bytes held at a time, sent as one
part of the back end's own multi-part upload) and made visible only when committed: a
reader sees the old file or the new one, and a failed upload or a sha256 that does not
match leaves nothing under the key. A multi-part upload through the API keeps its parts as
objects under ``<prefix>/uploads/<upload_id>/``, so each part may reach another replica;
completing it streams the parts, hashed on the way, into the file.

Keys are checked by ``validate_key`` before any object name is built, exactly as on disk:
every object the store touches is under ``<prefix>/files/`` or ``<prefix>/uploads/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from tunelab.errors import Conflict, InvalidInput, NotFound, StorageError, TunelabError
from tunelab.server.file_store.interface import (
    MAX_PARTS,
    StoredKey,
    StoredObject,
    checked_parts,
)
from tunelab.storage import Destination, StorageCredentials, storage_options, validate_key

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem  # type: ignore[import-untyped]

log = logging.getLogger("tunelab.server")

# What a write holds in memory before it sends a part; S3 refuses parts under 5 MiB, and
# allows 10,000 parts: a larger file announced in advance gets larger blocks.
_BLOCK = 16 * 1024 * 1024
_MAX_BLOCK = 256 * 1024 * 1024
_MAX_BACKEND_PARTS = 9_000
_READ_BLOCK = 8 * 1024 * 1024
_COPY_CHUNK = 4 * 1024 * 1024
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
# Upload sessions untouched this long are abandoned; the next upload clears them away.
_STALE_UPLOAD_SECONDS = 24 * 3600


class ObjectFileWriter:
    """A file being received into an object: ``write`` chunks, then ``commit`` or ``abort``."""

    def __init__(self, store: ObjectFileStore, path: str, key: str, size: int | None) -> None:
        self.key = key
        self.size = 0
        self._store = store
        self._digest = hashlib.sha256()
        block = min(max(_BLOCK, -(-(size or 0) // _MAX_BACKEND_PARTS)), _MAX_BLOCK)
        with store.translated("store", key):
            # Not committed on close: the object appears only once ``commit`` says so.
            # ``_open``, not ``open``: ``open`` would also keep every such file in the
            # filesystem's transaction list, which nothing here ever empties.
            self._handle = store.fs._open(path, "wb", block_size=block, autocommit=False)

    def write(self, data: bytes) -> None:
        try:
            with self._store.translated("store", self.key):
                self._handle.write(data)
        except BaseException:
            self.abort()
            raise
        self._digest.update(data)
        self.size += len(data)

    def commit(self, expected_sha256: str | None = None) -> StoredKey:
        sha256 = self._digest.hexdigest()
        if expected_sha256 is not None and expected_sha256 != sha256:
            self.abort()
            raise InvalidInput(
                f"the body of {self.key!r} does not match its X-Tunelab-Sha256 header "
                f"(sent {expected_sha256}, received {sha256}); nothing was stored",
                {"expected": expected_sha256, "actual": sha256},
            )
        try:
            with self._store.translated("store", self.key):
                self._handle.close()  # sends the last part; nothing is visible yet
                self._handle.commit()
        except BaseException:
            self.abort()
            raise
        return StoredKey(self.key, self.size, sha256)

    def abort(self) -> None:
        if self._handle.closed and getattr(self._handle, "buffer", None) is None:
            return  # committed or aborted already
        with contextlib.suppress(Exception), self._store.translated("abort", self.key):
            self._handle.discard()
        # Closing would send what is buffered: mark it closed instead.
        self._handle.closed = True
        self._handle.buffer = None


class ObjectFileStore:
    def __init__(self, location: Destination, credentials: StorageCredentials) -> None:
        if location.scheme not in ("s3", "gs", "azure"):
            raise ValueError(f"not an object store: {location.uri}")
        self.location = location
        base = location.path.rstrip("/")
        self._files = f"{base}/files"
        self._uploads = f"{base}/uploads"
        self._options = storage_options(location, credentials)
        self._secrets = credentials.secrets()
        self._fs: AbstractFileSystem | None = None

    @property
    def files_uri(self) -> str:
        """Where ``tunelab://`` keys live, as a storage URI."""
        return f"{self.location.uri.rstrip('/')}/files"

    @property
    def fs(self) -> AbstractFileSystem:
        if self._fs is None:
            import fsspec

            # Listings are never cached: another replica may change the store at any time.
            self._fs = fsspec.filesystem(
                self.location.protocol, use_listings_cache=False, **self._options
            )
        return self._fs

    # ----- whole files ------------------------------------------------------------------

    def writer(self, key: str, size: int | None = None) -> ObjectFileWriter:
        return ObjectFileWriter(self, self._place(key), key, size)

    def read(self, key: str) -> StoredObject:
        path = self._path(key)
        with self.translated("read", key):
            try:
                info = self.fs.info(path)
            except FileNotFoundError:
                info = None
        if info is None or info.get("type") != "file":
            raise NotFound(f"no file {key!r} in the file store")
        size = int(info["size"])
        etag = info.get("ETag") or info.get("etag")

        def open_file() -> BinaryIO:
            with self.translated("read", key):
                handle: BinaryIO = self.fs.open(
                    path, "rb", block_size=_READ_BLOCK, cache_type="readahead", size=size
                )
            return handle

        return StoredObject(size, str(etag) if etag else None, open_file)

    def delete(self, key: str) -> None:
        self.read(key)  # NotFound for none, as on disk
        with self.translated("delete", key), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    # ----- multi-part uploads -----------------------------------------------------------

    def drop_stale(self, folder: str, max_age: float) -> None:
        root = self._path(folder)
        with self.translated("list", folder):
            found: dict[str, dict[str, Any]] = self.fs.find(root, detail=True)
        self._drop_older(root, found, max_age)

    def start_upload(self, key: str) -> str:
        self._place(key)
        self._drop_stale_uploads()
        upload_id = uuid.uuid4().hex
        with self.translated("start an upload of", key):
            self.fs.pipe_file(f"{self._uploads}/{upload_id}/key", key.encode("utf-8"))
        return upload_id

    def upload_key(self, upload_id: str) -> str:
        missing = NotFound(f"no upload {upload_id!r} (completed, aborted or never started)")
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise missing
        with self.translated("read upload", upload_id):
            try:
                data: bytes = self.fs.cat_file(f"{self._uploads}/{upload_id}/key")
            except FileNotFoundError:
                raise missing from None
        return data.decode("utf-8")

    def part_writer(self, upload_id: str, number: int) -> ObjectFileWriter:
        key = self.upload_key(upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part numbers run from 1 to {MAX_PARTS}, got {number}")
        return ObjectFileWriter(self, f"{self._uploads}/{upload_id}/{number}.part", key, None)

    def complete_upload(self, upload_id: str, parts: int, size: int, sha256: str) -> StoredKey:
        key = self.upload_key(upload_id)
        folder = f"{self._uploads}/{upload_id}"
        with self.translated("complete the upload of", key):
            listed = {
                entry["name"].rsplit("/", 1)[-1]: int(entry["size"])
                for entry in self.fs.ls(folder, detail=True)
                if entry["name"].endswith(".part")
            }
        names = checked_parts(upload_id, parts, size, listed)
        writer = self.writer(key, size)
        try:
            with self.translated("complete the upload of", key):
                for name in names:
                    with self.fs.open(f"{folder}/{name}", "rb", block_size=_READ_BLOCK) as part:
                        while chunk := part.read(_COPY_CHUNK):
                            writer.write(chunk)
            stored = writer.commit(sha256)
        except FileNotFoundError:
            writer.abort()
            raise NotFound(f"upload {upload_id} was completed or aborted meanwhile") from None
        except BaseException:
            writer.abort()
            raise
        self._remove_upload(upload_id)
        return stored

    def abort_upload(self, upload_id: str) -> None:
        self.upload_key(upload_id)
        self._remove_upload(upload_id)

    # ----- internals --------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return f"{self._files}/{validate_key(key)}"

    def _place(self, key: str) -> str:
        """The object ``key`` will be written to, refused where the store on disk would
        refuse it (a file where one of its folders should be, or a folder of other files),
        so a store moves between a disk and a bucket unchanged."""
        path = self._path(key)
        parts = key.split("/")
        with self.translated("store", key):
            for depth in range(1, len(parts)):
                if self.fs.isfile(f"{self._files}/{'/'.join(parts[:depth])}"):
                    raise Conflict(
                        f"cannot store {key!r}: a file is where one of its folders should be"
                    )
            if self.fs.isdir(path) and self._holds_files(path):
                raise Conflict(f"cannot store {key!r}: it is a folder of other files")
        return path

    def _holds_files(self, folder: str) -> bool:
        # Some services (SeaweedFS) keep a folder once its last file is deleted: only files
        # in it make it one, as on disk, where an emptied folder is removed.
        found: dict[str, dict[str, Any]] = self.fs.find(folder, detail=True)
        return any(info.get("type") == "file" and name != folder for name, info in found.items())

    def _remove_upload(self, upload_id: str) -> None:
        with self.translated("remove upload", upload_id), contextlib.suppress(FileNotFoundError):
            self.fs.rm(f"{self._uploads}/{upload_id}", recursive=True)

    def _drop_stale_uploads(self) -> None:
        with self.translated("list", "uploads"):
            found: dict[str, dict[str, Any]] = self.fs.find(self._uploads, detail=True)
        self._drop_older(self._uploads, found, _STALE_UPLOAD_SECONDS, _UPLOAD_ID.fullmatch)

    def _drop_older(
        self,
        root: str,
        found: dict[str, dict[str, Any]],
        max_age: float,
        named: Callable[[str], object] = bool,
    ) -> None:
        """Remove each sub-folder of ``root`` (``named`` as given) whose newest object in
        ``found`` (what ``find`` listed) is older than ``max_age`` seconds."""
        newest: dict[str, float] = {}
        for name, info in found.items():
            sub = name[len(root) + 1 :].split("/", 1)[0]
            newest[sub] = max(newest.get(sub, 0.0), _modified(info))
        cutoff = time.time() - max_age
        for sub, modified in newest.items():
            if 0 < modified < cutoff and named(sub):
                with self.translated("remove", sub), contextlib.suppress(FileNotFoundError):
                    self.fs.rm(f"{root}/{sub}", recursive=True)

    @contextlib.contextmanager
    def translated(self, doing: str, what: str) -> Iterator[None]:
        """What the back end raised, as a StorageError that names the key and nothing of
        the bucket or its credentials (the details go to the server's log)."""
        try:
            yield
        except (TunelabError, FileNotFoundError):
            raise
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            for secret in self._secrets:
                reason = reason.replace(secret, "***")
            log.warning("file store: cannot %s %r: %s", doing, what, reason[:500])
            raise StorageError(
                f"the server's file store could not {doing} {what!r}; see the server's log"
            ) from None


def _modified(info: dict[str, Any]) -> float:
    """When an object was last written, from what the back ends list (0: unknown)."""
    for field in ("LastModified", "last_modified", "updated", "mtime"):
        value = info.get(field)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0

"""What every file store offers the routes: whole files, multi-part uploads, reads, deletes.

Two stores implement it: ``LocalFileStore`` (a folder on the server's disk, the default)
and ``ObjectFileStore`` (a prefix in an S3, GCS or Azure bucket, shared by every replica).
Both check keys with ``validate_key`` before anything is touched, and both make a file
appear whole or not at all: a reader never sees half a file, and a failed or refused
upload leaves nothing under its key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from tunelab.errors import InvalidInput

MAX_PARTS = 10_000


@dataclass(frozen=True)
class StoredKey:
    key: str
    size: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class StoredObject:
    """A file in an object store, as a download needs it: its size, what identifies this
    version of it, and a way to open it for reading (binary, seekable)."""

    size: int
    etag: str | None
    open: Callable[[], BinaryIO]


class FileWriter(Protocol):
    """A file being received: ``write`` chunks, then ``commit`` (or ``abort``)."""

    key: str
    size: int

    def write(self, data: bytes) -> None: ...

    def commit(self, expected_sha256: str | None = None) -> StoredKey:
        """Make the file visible under its key; an ``expected_sha256`` it does not match
        is InvalidInput and stores nothing."""
        ...

    def abort(self) -> None: ...


class FileStore(Protocol):
    def writer(self, key: str, size: int | None = None) -> FileWriter:
        """A writer for ``key`` (``size``: the length announced, when known); the caller
        commits it, or aborts it on failure."""
        ...

    def read(self, key: str) -> Path | StoredObject:
        """The file under ``key``: a path on the server's disk, or an object to stream;
        NotFound when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file under ``key``; NotFound when there is none."""
        ...

    def drop_stale(self, folder: str, max_age: float) -> None:
        """Remove each sub-folder of the key prefix ``folder`` whose newest file is older
        than ``max_age`` seconds (what a client left half-way and never came back for)."""
        ...

    def start_upload(self, key: str) -> str:
        """Open a multi-part upload to ``key``; its id."""
        ...

    def upload_key(self, upload_id: str) -> str:
        """The key an open upload is stored under once complete (NotFound for none)."""
        ...

    def part_writer(self, upload_id: str, number: int) -> FileWriter: ...

    def complete_upload(self, upload_id: str, parts: int, size: int, sha256: str) -> StoredKey:
        """Join parts ``1..parts`` into the file; a missing part, a size or a sha256 that
        does not match is InvalidInput and leaves the upload open."""
        ...

    def abort_upload(self, upload_id: str) -> None: ...


def checked_parts(upload_id: str, parts: int, size: int, found: Mapping[str, int]) -> list[str]:
    """The names of parts ``1..parts`` (``"1.part"``…) in order, given the parts an upload
    holds (name: bytes); a missing or extra part, or a total other than ``size``, is a 400."""
    names = [f"{n}.part" for n in range(1, parts + 1)]
    missing = [n for n, name in enumerate(names, start=1) if name not in found]
    if missing:
        raise InvalidInput(
            f"upload {upload_id} is missing part {missing[0]} of {parts}",
            {"missing": missing[:100]},
        )
    extra = sorted(set(found) - set(names))
    if extra:
        raise InvalidInput(f"upload {upload_id} has parts beyond {parts}: {extra[0]}")
    total = sum(found[name] for name in names)
    if total != size:
        raise InvalidInput(f"the parts of upload {upload_id} add up to {total} bytes, not {size}")
    return names

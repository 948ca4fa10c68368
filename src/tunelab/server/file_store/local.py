"""The server's file store on disk: ``<folder>/files/<key>``, written atomically.

The folder is the data directory, or the shared one ``--file-store /path`` names. A file is
written to a temporary file under ``<folder>/uploads/``, hashed while it is written, and
renamed into place: a reader sees the old file or the new one, never half.
A multi-part upload keeps its parts in ``<folder>/uploads/<upload_id>/`` until it is
completed (parts joined, size and sha256 checked, renamed into place) or aborted.

Keys are checked by ``validate_key`` before any path is built, and the folder a file
lands in is checked to resolve inside ``files/``: no key reaches outside it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from tunelab.errors import Conflict, InvalidInput, NotFound, StorageError
from tunelab.server.file_store.interface import MAX_PARTS, StoredKey, checked_parts
from tunelab.storage.destination import validate_key

_COPY_CHUNK = 4 * 1024 * 1024
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
# Upload sessions untouched this long are abandoned; the next upload clears them away.
_STALE_UPLOAD_SECONDS = 24 * 3600


class LocalFileWriter:
    """A file being received: ``write`` chunks, then ``commit`` (or ``abort``)."""

    def __init__(self, temp_dir: Path, place: Path, key: str) -> None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.place = place
        self.partial = temp_dir / f"{uuid.uuid4().hex}.partial"
        self._handle = open(self.partial, "wb")  # noqa: SIM115 - closed by commit/abort
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        try:
            self._handle.write(data)
        except OSError as exc:  # a full disk: the server's storage failed, not the client
            self.abort()
            raise StorageError(f"cannot store {self.key!r}: {exc.strerror}") from None
        self._digest.update(data)
        self.size += len(data)

    def commit(self, expected_sha256: str | None = None) -> StoredKey:
        """Move the file into place; a ``expected_sha256`` it does not match is a 400."""
        self._handle.close()
        sha256 = self._digest.hexdigest()
        if expected_sha256 is not None and expected_sha256 != sha256:
            self.abort()
            raise InvalidInput(
                f"the body of {self.key!r} does not match its X-Tunelab-Sha256 header "
                f"(sent {expected_sha256}, received {sha256}); nothing was stored",
                {"expected": expected_sha256, "actual": sha256},
            )
        _move_into_place(self.partial, self.place, self.key)
        return StoredKey(self.key, self.size, sha256)

    def abort(self) -> None:
        self._handle.close()
        self.partial.unlink(missing_ok=True)


class LocalFileStore:
    def __init__(self, folder: Path) -> None:
        self.root = folder / "files"
        self.uploads = folder / "uploads"

    # ----- whole files ------------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        """Where ``key`` is on disk (checked); it may not exist."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def existing(self, key: str) -> Path:
        path = self.path_of(key)
        if not path.is_file():
            raise NotFound(f"no file {key!r} in the file store")
        return path

    def read(self, key: str) -> Path:
        return self.existing(key)

    def writer(self, key: str, size: int | None = None) -> LocalFileWriter:
        """A writer for ``key``; the caller commits it (or aborts it on failure)."""
        place = self._place(key)
        return LocalFileWriter(self.uploads, place, key)

    def delete(self, key: str) -> None:
        path = self.existing(key)
        path.unlink(missing_ok=True)
        # Drop folders the file leaves empty, up to (not including) files/ itself.
        folder = path.parent
        while folder != self.root:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent

    # ----- multi-part uploads -----------------------------------------------------------

    def drop_stale(self, folder: str, max_age: float) -> None:
        root = self.path_of(folder)
        if not root.is_dir():
            return
        cutoff = time.time() - max_age
        for entry in root.iterdir():
            try:
                times = [f.stat().st_mtime for f in entry.rglob("*") if f.is_file()]
            except FileNotFoundError:  # removed while listed: not stale
                continue
            if entry.is_dir() and max(times, default=0) < cutoff:
                shutil.rmtree(entry, ignore_errors=True)

    def start_upload(self, key: str) -> str:
        self._place(key)
        self._drop_stale_uploads()
        upload_id = uuid.uuid4().hex
        folder = self.uploads / upload_id
        folder.mkdir(parents=True)
        (folder / "key").write_text(key, encoding="utf-8")
        return upload_id

    def upload_key(self, upload_id: str) -> str:
        """The key an open upload is stored under once complete (NotFound for none)."""
        return _key_of(self._upload(upload_id))

    def part_writer(self, upload_id: str, number: int) -> LocalFileWriter:
        folder = self._upload(upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise InvalidInput(f"part numbers run from 1 to {MAX_PARTS}, got {number}")
        return LocalFileWriter(folder, folder / f"{number}.part", _key_of(folder))

    def complete_upload(self, upload_id: str, parts: int, size: int, sha256: str) -> StoredKey:
        """Join parts ``1..parts`` into the file; a missing part, a size or a sha256 that
        does not match is a 400 and leaves the upload open (a part can be sent again)."""
        folder = self._upload(upload_id)
        key = _key_of(folder)
        found = {p.name: p.stat().st_size for p in folder.glob("*.part") if p.is_file()}
        files = [folder / name for name in checked_parts(upload_id, parts, size, found)]
        writer = LocalFileWriter(folder, self._place(key), key)
        try:
            for part in files:
                with open(part, "rb") as handle:
                    while chunk := handle.read(_COPY_CHUNK):
                        writer.write(chunk)
            stored = writer.commit(sha256)
        except FileNotFoundError:
            writer.abort()
            raise NotFound(f"upload {upload_id} was completed or aborted meanwhile") from None
        except BaseException:
            writer.abort()
            raise
        shutil.rmtree(folder, ignore_errors=True)
        return stored

    def abort_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._upload(upload_id), ignore_errors=True)

    # ----- internals --------------------------------------------------------------------

    def _place(self, key: str) -> Path:
        """The path ``key`` will be written to, its folder created and checked."""
        path = self.path_of(key)
        # Checked before anything is created: a symbolic link inside files/ must not lead
        # a write elsewhere.
        if not path.parent.resolve().is_relative_to(self.root.resolve()):
            raise InvalidInput(f"file key {key!r} leads outside the file store")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise Conflict(
                f"cannot store {key!r}: a file is where one of its folders should be"
            ) from None
        except OSError as exc:
            raise StorageError(f"cannot create the folder for {key!r}: {exc.strerror}") from None
        if path.is_dir():
            raise Conflict(f"cannot store {key!r}: it is a folder of other files")
        return path

    def _upload(self, upload_id: str) -> Path:
        folder = self.uploads / upload_id
        if not _UPLOAD_ID.fullmatch(upload_id) or not (folder / "key").is_file():
            raise NotFound(f"no upload {upload_id!r} (completed, aborted or never started)")
        return folder

    def _drop_stale_uploads(self) -> None:
        if not self.uploads.is_dir():
            return
        cutoff = time.time() - _STALE_UPLOAD_SECONDS
        for entry in self.uploads.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
            except FileNotFoundError:
                continue


def _key_of(folder: Path) -> str:
    return (folder / "key").read_text(encoding="utf-8")


def _move_into_place(partial: Path, place: Path, key: str) -> None:
    try:
        os.replace(partial, place)
        return
    except IsADirectoryError:
        partial.unlink(missing_ok=True)
        raise Conflict(f"cannot store {key!r}: it is a folder of other files") from None
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            partial.unlink(missing_ok=True)
            raise StorageError(f"cannot store {key!r}: {exc.strerror}") from None
    # files/ is on another file system than uploads/: copy next to the target, then rename.
    beside = place.parent / f".{uuid.uuid4().hex}.partial"
    try:
        shutil.copyfile(partial, beside)
        os.replace(beside, place)
    except OSError as exc:
        raise StorageError(f"cannot store {key!r}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
        beside.unlink(missing_ok=True)

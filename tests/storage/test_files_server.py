"""tunelab:// through a real server process (the SDK's side): whole files, files larger than
the part size going up in parts, verified downloads, deletes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.services import ServerProcess, free_port
from tunelab.errors import StorageError
from tunelab.storage import StorageContext, delete, download, exists, filesystem, upload

PART = 256 * 1024


@pytest.fixture
def ctx(api_url: str, tmp_path: Path) -> StorageContext:
    return StorageContext(server_url=api_url, cache_dir=tmp_path / "cache", part_size=PART)


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_small_file_round_trip(ctx: StorageContext, server: ServerProcess, tmp_path: Path) -> None:
    data = b"small artifact"
    stored = upload(_file(tmp_path / "small.txt", data), "tunelab://sdk/run1/small #1 50%.txt", ctx)

    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (server.data_dir / "files" / "sdk" / "run1" / "small #1 50%.txt").read_bytes() == data
    assert exists(stored.uri, ctx)
    copy = download(stored.uri, ctx, sha256=stored.sha256)
    assert copy.read_bytes() == data

    delete(stored.uri, ctx)
    assert not exists(stored.uri, ctx)
    delete(stored.uri, ctx)  # already gone


def test_a_large_file_goes_in_parts(
    ctx: StorageContext, server: ServerProcess, tmp_path: Path
) -> None:
    data = os.urandom(5 * PART + 1234)
    local = _file(tmp_path / "large.bin", data)
    uploads = server.data_dir / "uploads"
    parts_seen: set[str] = set()
    sent: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        sent.append((done, total))
        # The parts the server already holds for the open upload, read from its disk.
        parts_seen.update(p.name for p in uploads.glob("*/*.part"))

    stored = upload(local, "tunelab://sdk/run2/large.bin", ctx, progress=progress)

    # Six parts: the first five are on the server's disk by the time the next is read. The
    # sixth's progress comes as its only chunk is handed to the connection, so the server may
    # or may not have opened its file yet.
    assert {f"{n}.part" for n in range(1, 6)} <= parts_seen <= {f"{n}.part" for n in range(1, 7)}
    assert sent[-1] == (len(data), len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (server.data_dir / "files" / "sdk" / "run2" / "large.bin").read_bytes() == data
    assert list(uploads.glob("*/*.part")) == []  # the upload session is gone

    seen: list[tuple[int, int]] = []
    copy = download(stored.uri, ctx, sha256=stored.sha256, progress=lambda *a: seen.append(a))
    assert copy.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    delete(stored.uri, ctx)
    assert not exists(stored.uri, ctx)


def test_ranged_reads_through_fsspec(ctx: StorageContext, tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    stored = upload(_file(tmp_path / "r.bin", data), "tunelab://sdk/run3/r.bin", ctx)
    fs, path = filesystem(stored.uri, ctx)
    with fs.open(path, "rb", block_size=1000) as handle:
        handle.seek(5000)
        assert handle.read(300) == data[5000:5300]
    assert fs.info(path)["size"] == len(data)


def test_a_mismatching_download_is_refused(
    ctx: StorageContext, server: ServerProcess, tmp_path: Path
) -> None:
    stored = upload(_file(tmp_path / "t.txt", b"true"), "tunelab://sdk/run4/t.txt", ctx)
    (server.data_dir / "files" / "sdk" / "run4" / "t.txt").write_bytes(b"false")
    with pytest.raises(StorageError, match="does not match"):
        download(stored.uri, ctx, sha256=stored.sha256)
    assert [p for p in ctx.cache_dir.rglob("*") if p.is_file()] == []


def test_missing_file_and_unreachable_server(ctx: StorageContext, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such file"):
        download("tunelab://sdk/none/x.bin", ctx)
    gone = StorageContext(
        server_url=f"http://127.0.0.1:{free_port()}", cache_dir=tmp_path / "cache"
    )
    with pytest.raises(StorageError, match="cannot reach the Tunelab server"):
        upload(_file(tmp_path / "u.txt", b"u"), "tunelab://sdk/u.txt", gone)

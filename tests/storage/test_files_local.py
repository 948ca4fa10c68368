"""Files in local folders (a path or file://): upload, download (cached and verified),
delete, exists."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tunelab.errors import InvalidInput, StorageError
from tunelab.storage import StorageContext, delete, download, exists, file_sha256, upload


@pytest.fixture
def ctx(tmp_path: Path) -> StorageContext:
    return StorageContext(cache_dir=tmp_path / "cache")


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("form", ["path", "file://"])
def test_round_trip(tmp_path: Path, ctx: StorageContext, form: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    local = _file(tmp_path / "work" / "weights.bin", data)
    target = tmp_path / "share" / "vision" / "weights.bin"
    uri = str(target) if form == "path" else f"file://{target}"
    seen: list[tuple[int, int]] = []

    stored = upload(local, uri, ctx, progress=lambda sent, total: seen.append((sent, total)))

    assert stored.uri == uri
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert target.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    # Written beside the target and renamed: no temporary file is left behind.
    assert sorted(p.name for p in target.parent.iterdir()) == ["weights.bin"]
    assert exists(uri, ctx)

    copy = download(uri, ctx, sha256=stored.sha256)
    assert copy.read_bytes() == data and copy.name == "weights.bin"
    assert copy.is_relative_to(ctx.cache_dir)

    delete(uri, ctx)
    assert not target.exists()
    assert not exists(uri, ctx)
    delete(uri, ctx)  # already gone: not an error


def test_a_cached_copy_needs_no_source(tmp_path: Path, ctx: StorageContext) -> None:
    local = _file(tmp_path / "a.txt", b"cached once")
    stored = upload(local, str(tmp_path / "share" / "a.txt"), ctx)
    first = download(stored.uri, ctx, sha256=stored.sha256)
    delete(stored.uri, ctx)

    again = download(stored.uri, ctx, sha256=stored.sha256)

    assert again == first and again.read_bytes() == b"cached once"


def test_a_corrupted_cached_copy_is_replaced(tmp_path: Path, ctx: StorageContext) -> None:
    stored = upload(_file(tmp_path / "b.txt", b"good bytes"), str(tmp_path / "s" / "b.txt"), ctx)
    cached = download(stored.uri, ctx, sha256=stored.sha256)
    cached.write_bytes(b"rotten")

    again = download(stored.uri, ctx, sha256=stored.sha256)

    assert again.read_bytes() == b"good bytes"


def test_a_corrupted_cached_copy_without_source_fails_and_is_removed(
    tmp_path: Path, ctx: StorageContext
) -> None:
    stored = upload(_file(tmp_path / "c.txt", b"good bytes"), str(tmp_path / "s" / "c.txt"), ctx)
    cached = download(stored.uri, ctx, sha256=stored.sha256)
    cached.write_bytes(b"good bytez")
    delete(stored.uri, ctx)

    with pytest.raises(StorageError, match="no such file"):
        download(stored.uri, ctx, sha256=stored.sha256)

    assert not cached.exists()


def test_a_download_that_does_not_match_is_removed(tmp_path: Path, ctx: StorageContext) -> None:
    stored = upload(_file(tmp_path / "d.txt", b"original"), str(tmp_path / "s" / "d.txt"), ctx)
    Path(stored.uri).write_bytes(b"tampered")

    with pytest.raises(StorageError, match="does not match its recorded sha256") as caught:
        download(stored.uri, ctx, sha256=stored.sha256)

    assert caught.value.detail["actual"] == hashlib.sha256(b"tampered").hexdigest()
    leftovers = [p for p in ctx.cache_dir.rglob("*") if p.is_file()]
    assert leftovers == []


def test_without_a_hash_every_download_fetches(tmp_path: Path, ctx: StorageContext) -> None:
    target = tmp_path / "s" / "e.txt"
    upload(_file(tmp_path / "e.txt", b"one"), str(target), ctx)
    assert download(str(target), ctx).read_bytes() == b"one"
    target.write_bytes(b"two")
    assert download(str(target), ctx).read_bytes() == b"two"


def test_download_progress_reaches_the_total(tmp_path: Path, ctx: StorageContext) -> None:
    stored = upload(_file(tmp_path / "f.bin", b"x" * 1000), str(tmp_path / "s" / "f.bin"), ctx)
    seen: list[tuple[int, int]] = []
    download(stored.uri, ctx, sha256=stored.sha256, progress=lambda *a: seen.append(a))
    download(stored.uri, ctx, sha256=stored.sha256, progress=lambda *a: seen.append(a))
    assert seen[-1] == (1000, 1000)


def test_missing_source_is_a_storage_error(tmp_path: Path, ctx: StorageContext) -> None:
    with pytest.raises(StorageError) as caught:
        download(str(tmp_path / "nowhere" / "x.bin"), ctx)
    assert str(tmp_path / "nowhere" / "x.bin") in caught.value.message


def test_bad_calls_are_invalid_input(tmp_path: Path, ctx: StorageContext) -> None:
    local = _file(tmp_path / "g.txt", b"g")
    with pytest.raises(InvalidInput):
        upload(tmp_path / "missing.txt", str(tmp_path / "s" / "g.txt"), ctx)
    with pytest.raises(InvalidInput):
        upload(local, "relative/g.txt", ctx)
    with pytest.raises(InvalidInput):
        upload(local, "s3://bucket", ctx)
    with pytest.raises(InvalidInput):
        download(str(tmp_path / "s" / "g.txt"), ctx, sha256="not-a-hash")


def test_file_sha256_reads_any_size(tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024 + 3)
    assert file_sha256(_file(tmp_path / "big", data)) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    assert file_sha256(_file(tmp_path / "empty", b"")) == (0, hashlib.sha256(b"").hexdigest())


def test_server_side_store_maps_to_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "data" / "files"
    ctx = StorageContext(files_root=root, cache_dir=tmp_path / "cache")
    stored = upload(_file(tmp_path / "h.txt", b"h"), "tunelab://team/run/h.txt", ctx)
    assert (root / "team" / "run" / "h.txt").read_bytes() == b"h"
    assert exists(stored.uri, ctx)
    delete(stored.uri, ctx)
    assert not exists(stored.uri, ctx)
    with pytest.raises(InvalidInput):
        upload(tmp_path / "h.txt", "tunelab://../outside.txt", ctx)
    assert not (tmp_path / "data" / "outside.txt").exists()


def test_the_server_store_needs_a_server(tmp_path: Path) -> None:
    ctx = StorageContext(cache_dir=tmp_path / "cache")
    with pytest.raises(StorageError, match="no server"):
        exists("tunelab://a/b.txt", ctx)

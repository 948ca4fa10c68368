"""S3 against a real S3-compatible service (SeaweedFS on 127.0.0.1): round trips, multipart
uploads, progress, and the errors a wrong secret or a missing bucket give."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.services import S3_TEST_BUCKET, SeaweedServer
from tunelab.errors import StorageError
from tunelab.storage import (
    S3Credentials,
    StorageContext,
    StorageCredentials,
    delete,
    download,
    exists,
    filesystem,
    load_storage_credentials,
    upload,
)

MiB = 1024 * 1024


def _ctx(s3: SeaweedServer, tmp_path: Path, secret: str | None = None) -> StorageContext:
    entry = S3Credentials(host=s3.endpoint, key=s3.key, secret=secret or s3.secret)
    return StorageContext(
        credentials=StorageCredentials(s3=(entry,)),
        cache_dir=tmp_path / "cache",
        part_size=16 * MiB,
    )


def _uri(s3: SeaweedServer, name: str) -> str:
    return f"s3://{s3.endpoint}/{S3_TEST_BUCKET}/tests/{uuid.uuid4().hex}/{name}"


def test_round_trip(s3_server: SeaweedServer, tmp_path: Path) -> None:
    ctx = _ctx(s3_server, tmp_path)
    data = os.urandom(100_000)
    local = tmp_path / "features.parquet"
    local.write_bytes(data)
    uri = _uri(s3_server, "features.parquet")

    stored = upload(local, uri, ctx)

    assert (stored.uri, stored.size) == (uri, len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert exists(uri, ctx)
    copy = download(uri, ctx, sha256=stored.sha256)
    assert copy.read_bytes() == data
    delete(uri, ctx)
    assert not exists(uri, ctx)
    delete(uri, ctx)  # already gone
    # The cached, verified copy still serves, without asking S3.
    assert download(uri, ctx, sha256=stored.sha256).read_bytes() == data


def test_credentials_from_the_config_file(s3_server: SeaweedServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[storage.s3]]\nhost = "{s3_server.endpoint}"\nbucket = "{S3_TEST_BUCKET}"\n'
        f'key = "{s3_server.key}"\nsecret = "{s3_server.secret}"\n'
    )
    ctx = StorageContext(credentials=load_storage_credentials({}, path=config))
    local = tmp_path / "a.txt"
    local.write_text("from the config file")
    stored = upload(local, _uri(s3_server, "a.txt"), ctx)
    assert exists(stored.uri, ctx)


def test_a_large_file_goes_up_in_parts(s3_server: SeaweedServer, tmp_path: Path) -> None:
    ctx = _ctx(s3_server, tmp_path)
    data = os.urandom(66 * MiB + 4321)
    local = tmp_path / "model.pt"
    local.write_bytes(data)
    uri = _uri(s3_server, "model.pt")
    fs, path = filesystem(uri, ctx)  # the very instance upload() uses (fsspec caches it)
    parts: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        parts.append(params["PartNumber"])

    fs.s3.meta.events.register("before-parameter-build.s3.UploadPart", count)
    sent: list[tuple[int, int]] = []
    try:
        stored = upload(local, uri, ctx, progress=lambda done, total: sent.append((done, total)))
    finally:
        fs.s3.meta.events.unregister("before-parameter-build.s3.UploadPart", count)

    assert sorted(parts) == [1, 2, 3, 4, 5]  # 16 MiB parts
    assert sent[-1] == (len(data), len(data))
    assert len(sent) > 2  # reported part by part, not only at the end
    assert fs.info(path)["size"] == len(data)
    received: list[tuple[int, int]] = []
    copy = download(uri, ctx, sha256=stored.sha256, progress=lambda *a: received.append(a))
    assert received[-1] == (len(data), len(data))
    assert copy.stat().st_size == len(data)
    delete(uri, ctx)


def test_a_wrong_secret_is_a_clear_storage_error(s3_server: SeaweedServer, tmp_path: Path) -> None:
    wrong = "Wrong-Secret-Value-42"
    ctx = _ctx(s3_server, tmp_path, secret=wrong)
    local = tmp_path / "x.txt"
    local.write_text("x")
    uri = _uri(s3_server, "x.txt")

    for call in (lambda: upload(local, uri, ctx), lambda: exists(uri, ctx)):
        with pytest.raises(StorageError) as caught:
            call()
        message = caught.value.message
        assert message.startswith(f"access to {uri} was denied")
        assert "[storage.s3]" in message and s3_server.endpoint in message
        assert wrong not in message and wrong not in repr(caught.value.detail)


def test_a_missing_bucket_is_a_storage_error(s3_server: SeaweedServer, tmp_path: Path) -> None:
    ctx = _ctx(s3_server, tmp_path)
    uri = f"s3://{s3_server.endpoint}/no-such-bucket-{uuid.uuid4().hex[:8]}/x.bin"
    with pytest.raises(StorageError, match="no bucket 'no-such-bucket-") as caught:
        download(uri, ctx)
    assert uri in caught.value.message
    assert not exists(uri, ctx)

"""Storage URIs: every form of the table in docs/storage.md, and what is refused."""

from __future__ import annotations

import pytest

from tunelab.errors import InvalidInput
from tunelab.storage import join_uri, parse_destination, validate_key


@pytest.mark.parametrize(
    ("uri", "scheme", "path", "normalized"),
    [
        ("/mnt/share/folder", "file", "/mnt/share/folder", "/mnt/share/folder"),
        ("/mnt/share/folder/", "file", "/mnt/share/folder", "/mnt/share/folder"),
        ("file:///mnt/share/folder", "file", "/mnt/share/folder", "file:///mnt/share/folder"),
        ("file://localhost/mnt/x", "file", "/mnt/x", "file:///mnt/x"),
        ("tunelab://vision/resnet", "tunelab", "vision/resnet", "tunelab://vision/resnet"),
        ("tunelab://", "tunelab", "", "tunelab://"),
        ("gs://my-bucket/folder/sub", "gs", "my-bucket/folder/sub", "gs://my-bucket/folder/sub"),
        ("gs://my-bucket", "gs", "my-bucket", "gs://my-bucket"),
    ],
)
def test_folders_gcs_and_the_server_store(
    uri: str, scheme: str, path: str, normalized: str
) -> None:
    dest = parse_destination(uri)
    assert (dest.scheme, dest.path, dest.uri) == (scheme, path, normalized)
    assert dest.endpoint is None and dest.account is None


def test_s3_on_aws_names_a_bucket() -> None:
    dest = parse_destination("s3://models/team/resnet")
    assert dest.scheme == "s3" and dest.protocol == "s3"
    assert dest.endpoint is None
    assert (dest.bucket, dest.key, dest.path) == ("models", "team/resnet", "models/team/resnet")


def test_s3_with_a_port_names_an_endpoint_then_a_bucket() -> None:
    dest = parse_destination("s3://127.0.0.1:8333/bucket/folder/train.abc/model.pt")
    assert dest.endpoint == "127.0.0.1:8333"
    assert dest.bucket == "bucket"
    assert dest.key == "folder/train.abc/model.pt"
    assert dest.name == "model.pt"
    assert dest.uri == "s3://127.0.0.1:8333/bucket/folder/train.abc/model.pt"
    assert parse_destination("s3://minio.lan:9000/data").endpoint == "minio.lan:9000"


def test_azure_names_account_and_container() -> None:
    dest = parse_destination("azure://myaccount.blob.core.windows.net/models/resnet/m.pt")
    assert dest.scheme == "azure" and dest.protocol == "abfs"
    assert dest.account == "myaccount"
    assert (dest.bucket, dest.key) == ("models", "resnet/m.pt")
    assert dest.path == "models/resnet/m.pt"


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "relative/folder",
        "ftp://host/file",
        "s3://",
        "s3:///folder",
        "s3://127.0.0.1:8333",
        "s3://127.0.0.1:8333/",
        "s3://127.0.0.1:99999/bucket",
        "s3://host:port/bucket",
        "s3://b/../etc",
        "s3://bucket/a//b",
        "s3://bucket/a/./b",
        "gs://x",
        "azure://myaccount.example.com/container",
        "azure://myaccount.blob.core.windows.net",
        "azure://myaccount.blob.core.windows.net/UPPER",
        "file://otherhost/path",
        "file://relative",
        "/mnt/../etc/passwd",
        "tunelab://a/../../etc",
        "tunelab://a\\b",
        "tunelab://a/\x00b",
        "/mnt/share\nx",
    ],
)
def test_bad_uris_are_invalid_input(uri: str) -> None:
    with pytest.raises(InvalidInput):
        parse_destination(uri)


def test_credentials_in_a_uri_are_refused_without_echoing_them() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_destination("s3://AKIAXX:TopSecretValue@127.0.0.1:8333/bucket")
    assert "TopSecretValue" not in caught.value.message
    assert "config file" in caught.value.message


def test_the_error_names_the_uri() -> None:
    with pytest.raises(InvalidInput, match="ftp://host/file"):
        parse_destination("ftp://host/file")


def test_join_keeps_the_form_and_validates_every_part() -> None:
    assert join_uri("s3://127.0.0.1:8333/bucket/folder/", "a/b", "c.pt") == (
        "s3://127.0.0.1:8333/bucket/folder/a/b/c.pt"
    )
    assert join_uri("tunelab://", "vision", "model.pt") == "tunelab://vision/model.pt"
    assert join_uri("/", "data") == "/data"
    assert join_uri("file:///mnt/x", "y") == "file:///mnt/x/y"
    assert join_uri("gs://bucket") == "gs://bucket"
    for bad in ("../x", "/abs", "a//b", "a\\b", ".", "a/.."):
        with pytest.raises(InvalidInput):
            join_uri("s3://bucket/folder", bad)
    with pytest.raises(InvalidInput):
        join_uri("nope://x", "y")


@pytest.mark.parametrize(
    "key", ["", "/abs", "..", "a/../b", "a/./b", "a//b", "a/", "a\\b", "a\x00b", "x" * 1025]
)
def test_keys_are_plain_relative_paths(key: str) -> None:
    with pytest.raises(InvalidInput):
        validate_key(key)


def test_a_plain_key_passes() -> None:
    assert validate_key("vision/resnet/train.1/model v2.pt") == "vision/resnet/train.1/model v2.pt"
    assert validate_key("...") == "..."

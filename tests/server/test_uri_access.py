"""Which object stores the server counts as configured, and how its settings for files are
read (``server.uri_access``, ``server.settings``); the routes that use them are tried on a
real server in ``test_access_files``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelab.domain.access import OPEN, Principal, UserKind
from tunelab.errors import ConfigError, Forbidden
from tunelab.server import access
from tunelab.server.settings import ServerSettings
from tunelab.server.uri_access import UriPolicy, require_uri
from tunelab.storage import (
    AzureCredentials,
    GsCredentials,
    S3Credentials,
    StorageCredentials,
    parse_destination,
)

CREDENTIALS = StorageCredentials(
    s3=(
        S3Credentials(host="127.0.0.1:8333", bucket="models", key="k", secret="s"),
        S3Credentials(bucket="aws-only", key="k", secret="s"),
        S3Credentials(host="minio.lan:9000", key="k", secret="s"),
    ),
    gs=(GsCredentials(bucket="team"),),
    azure=(AzureCredentials(account_name="acct", container="runs"),),
)
POLICY = UriPolicy(local_files=True, allow=("s3://10.0.0.5:9000/shared",), credentials=CREDENTIALS)
MEMBER = Principal(user_id="u1", name="bob", kind=UserKind.MEMBER)
ADMIN = Principal(user_id="u0", name="root", kind=UserKind.ADMIN)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://127.0.0.1:8333/models/a/b.pt",  # host and bucket of an entry
        "s3://minio.lan:9000/any-bucket/x",  # an entry for the whole endpoint
        "s3://aws-only/x",  # a bucket-only entry: that bucket on AWS
        "s3://10.0.0.5:9000/shared/x/y",  # TUNELAB_STORAGE_ALLOW
        "gs://team/x",
        "azure://acct.blob.core.windows.net/runs/x",
    ],
)
def test_configured_destinations_are_allowed(uri: str) -> None:
    assert POLICY.allows(parse_destination(uri))


@pytest.mark.parametrize(
    "uri",
    [
        "s3://127.0.0.1:8333/other/x",  # the endpoint, another bucket
        "s3://127.0.0.1:9/aws-only/x",  # the bucket-only entry's bucket at any other host
        "s3://10.0.0.5:9000/shared-not/x",  # a prefix ends at a path component
        "s3://10.0.0.5:9000/sharedx",
        "s3://other-bucket/x",
        "gs://other/x",
        "azure://acct.blob.core.windows.net/other/x",
        "azure://evil.blob.core.windows.net/runs/x",
    ],
)
def test_anything_else_is_refused_with_the_allowed_ones_named(uri: str) -> None:
    assert not POLICY.allows(parse_destination(uri))
    with pytest.raises(Forbidden) as refused:
        require_uri(None, ADMIN, uri, access.READ, POLICY)
    message = refused.value.message
    assert "s3://127.0.0.1:8333/models" in message and "s3://10.0.0.5:9000/shared/" in message


def test_local_files_are_an_admins_and_only_where_served() -> None:
    uri = "file:///etc/passwd"
    assert require_uri(None, ADMIN, uri, access.READ, POLICY).path == "/etc/passwd"
    assert require_uri(None, OPEN, "/etc/hosts", access.WRITE, POLICY).scheme == "file"
    with pytest.raises(Forbidden, match="only an admin"):
        require_uri(None, MEMBER, uri, access.READ, POLICY)
    closed = UriPolicy(local_files=False, allow=(), credentials=StorageCredentials())
    with pytest.raises(Forbidden, match="TUNELAB_SERVE_LOCAL_FILES"):
        require_uri(None, ADMIN, uri, access.READ, closed)


def test_settings_serve_local_files_only_without_login_unless_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TUNELAB_SERVE_LOCAL_FILES", raising=False)
    monkeypatch.delenv("TUNELAB_AUTH", raising=False)
    assert ServerSettings.from_env(data_dir=tmp_path).local_files_served
    assert not ServerSettings.from_env(data_dir=tmp_path, auth="on").local_files_served
    monkeypatch.setenv("TUNELAB_SERVE_LOCAL_FILES", "on")
    assert ServerSettings.from_env(data_dir=tmp_path, auth="on").local_files_served
    monkeypatch.setenv("TUNELAB_SERVE_LOCAL_FILES", "off")
    assert not ServerSettings.from_env(data_dir=tmp_path).local_files_served
    monkeypatch.setenv("TUNELAB_SERVE_LOCAL_FILES", "maybe")
    with pytest.raises(ConfigError, match="TUNELAB_SERVE_LOCAL_FILES"):
        ServerSettings.from_env(data_dir=tmp_path)


def test_settings_read_the_allowed_prefixes_and_refuse_what_is_not_an_object_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TUNELAB_STORAGE_ALLOW", " s3://127.0.0.1:9000/shared/ , gs://team ")
    settings = ServerSettings.from_env(data_dir=tmp_path)
    assert settings.storage_allow == ("s3://127.0.0.1:9000/shared", "gs://team")
    for bad in ("file:///srv", "tunelab://x", "s3://127.0.0.1:9000", "http://x/y"):
        monkeypatch.setenv("TUNELAB_STORAGE_ALLOW", bad)
        with pytest.raises(ConfigError, match="TUNELAB_STORAGE_ALLOW"):
            ServerSettings.from_env(data_dir=tmp_path)

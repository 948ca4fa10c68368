"""gs:// and azure:// go through fsspec's gcsfs and adlfs.

No Google or Azure service runs here, so these tests check only what can be checked without
the network: how the URIs are parsed, and that the storage options and the filesystems built
from them carry the configured project, service-account token, account name and key. A guard
makes any connection to an address other than 127.0.0.1 fail the test.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tunelab.storage import (
    AzureCredentials,
    GsCredentials,
    S3Credentials,
    StorageContext,
    StorageCredentials,
    filesystem,
    parse_destination,
    storage_options,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect

    def local_only(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            raise AssertionError(f"network access to {address}")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    monkeypatch.setattr(socket.socket, "connect_ex", local_only)
    yield


@pytest.fixture(scope="module")
def service_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A service-account file with a real (throwaway) key, as Google issues them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "tunelab-test",
        "private_key_id": "0123",
        "private_key": pem,
        "client_email": "runner@tunelab-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = tmp_path_factory.mktemp("gcp") / "service-account.json"
    path.write_text(json.dumps(info))
    return path


def _ctx(tmp_path: Path, credentials: StorageCredentials) -> StorageContext:
    return StorageContext(credentials=credentials, cache_dir=tmp_path / "cache")


def test_gs_uses_the_entry_for_its_bucket(tmp_path: Path, service_account: Path) -> None:
    credentials = StorageCredentials(
        gs=(
            GsCredentials(project="default-project"),
            GsCredentials(
                bucket="models", project="tunelab-test", credentials_json=str(service_account)
            ),
        )
    )
    dest = parse_destination("gs://models/team/resnet/model.pt")
    assert (dest.protocol, dest.bucket, dest.key) == ("gs", "models", "team/resnet/model.pt")
    assert storage_options(dest, credentials) == {
        "project": "tunelab-test",
        "token": str(service_account),
    }
    assert storage_options(parse_destination("gs://other/x"), credentials) == {
        "project": "default-project"
    }

    fs, path = filesystem(dest.uri, _ctx(tmp_path, credentials))

    assert type(fs).__module__.startswith("gcsfs")
    assert path == "models/team/resnet/model.pt"
    assert fs.project == "tunelab-test"
    signer = fs.credentials.credentials
    assert signer.service_account_email == "runner@tunelab-test.iam.gserviceaccount.com"


def test_gs_without_an_entry_leaves_it_to_google(tmp_path: Path) -> None:
    dest = parse_destination("gs://models/x")
    assert storage_options(dest, StorageCredentials()) == {}


def test_azure_uses_account_and_container_entries(tmp_path: Path) -> None:
    credentials = StorageCredentials(
        azure=(
            AzureCredentials(account_name="myaccount", account_key="ZGVmYXVsdA=="),
            AzureCredentials(account_name="myaccount", account_key="bW9kZWxz", container="models"),
            AzureCredentials(account_name="otheraccount", account_key="b3RoZXI="),
        )
    )
    dest = parse_destination("azure://myaccount.blob.core.windows.net/models/resnet/m.pt")
    assert (dest.protocol, dest.account, dest.bucket) == ("abfs", "myaccount", "models")
    assert storage_options(dest, credentials) == {
        "account_name": "myaccount",
        "account_key": "bW9kZWxz",
    }
    other = parse_destination("azure://myaccount.blob.core.windows.net/logs/x")
    assert storage_options(other, credentials)["account_key"] == "ZGVmYXVsdA=="

    fs, path = filesystem(dest.uri, _ctx(tmp_path, credentials))

    assert type(fs).__module__.startswith("adlfs")
    assert path == "models/resnet/m.pt"
    assert (fs.account_name, fs.account_key) == ("myaccount", "bW9kZWxz")
    assert fs.account_url == "https://myaccount.blob.core.windows.net"


def test_azure_without_an_entry_names_only_the_account() -> None:
    dest = parse_destination("azure://lonely.blob.core.windows.net/data/x")
    assert storage_options(dest, StorageCredentials()) == {"account_name": "lonely"}


def test_s3_options_carry_endpoint_and_entry() -> None:
    credentials = StorageCredentials(
        s3=(S3Credentials(host="minio.lan:9000", key="k", secret="s", region="r", secure=True),)
    )
    options = storage_options(parse_destination("s3://minio.lan:9000/bkt/x"), credentials)
    assert options["endpoint_url"] == "https://minio.lan:9000"
    assert (options["key"], options["secret"]) == ("k", "s")
    assert options["client_kwargs"] == {"region_name": "r"}
    assert storage_options(parse_destination("s3://bkt/x"), credentials) == {}
    plain = storage_options(parse_destination("s3://127.0.0.1:1/bkt/x"), credentials)
    assert plain["endpoint_url"] == "http://127.0.0.1:1" and "key" not in plain

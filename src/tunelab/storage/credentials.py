"""Object-storage credentials: the ``[storage]`` tables of the config file.

The file is ``~/.config/tunelab/config.toml`` or the one ``TUNELAB_CONFIG_FILE`` names::

    [[storage.s3]]
    host = "127.0.0.1:8333"      # match by endpoint host:port ...
    bucket = "models"            # ... and/or by bucket; an entry with neither is the default
    key = "AKIA..."
    secret = "..."
    region = "us-east-1"         # optional
    secure = false               # the endpoint speaks https (AWS itself always does)

    [[storage.gs]]
    bucket = "my-bucket"         # optional
    project = "my-project"
    credentials_json = "/path/service-account.json"

    [[storage.azure]]
    account_name = "myaccount"
    account_key = "..."
    container = "models"         # optional

For a URI the most specific entry wins: host and bucket, then host, then bucket, then the
default (for Azure the account plays the host). Without one, the back ends' own environment
variables apply (``AWS_ACCESS_KEY_ID``, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_STORAGE_ACCOUNT_KEY``, ...). Secrets never appear in a repr or an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tunelab.errors import ConfigError
from tunelab.sdk.config import config_file_path, read_config_tables


@dataclass(frozen=True)
class S3Credentials:
    host: str | None = None
    bucket: str | None = None
    key: str | None = None
    secret: str | None = field(default=None, repr=False)
    region: str | None = None
    secure: bool = False


@dataclass(frozen=True)
class GsCredentials:
    bucket: str | None = None
    project: str | None = None
    credentials_json: str | None = None


@dataclass(frozen=True)
class AzureCredentials:
    account_name: str
    account_key: str | None = field(default=None, repr=False)
    container: str | None = None


_Entry = TypeVar("_Entry", S3Credentials, GsCredentials, AzureCredentials)


@dataclass(frozen=True)
class StorageCredentials:
    """Every ``[storage]`` entry of one config file (``source``; None when there was none)."""

    s3: tuple[S3Credentials, ...] = ()
    gs: tuple[GsCredentials, ...] = ()
    azure: tuple[AzureCredentials, ...] = ()
    source: Path | None = None

    def for_s3(self, endpoint: str | None, bucket: str | None) -> S3Credentials | None:
        """The entry for an S3 URI: ``endpoint`` is its ``host:port``, None for AWS."""
        host = endpoint.lower() if endpoint else None
        return _most_specific(self.s3, lambda e: e.host, host, lambda e: e.bucket, bucket)

    def for_gs(self, bucket: str | None) -> GsCredentials | None:
        return _most_specific(self.gs, lambda e: None, None, lambda e: e.bucket, bucket)

    def for_azure(self, account: str | None, container: str | None) -> AzureCredentials | None:
        return _most_specific(
            self.azure, lambda e: e.account_name, account, lambda e: e.container, container
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so messages from a back end can be scrubbed of them."""
        found = [e.secret for e in self.s3] + [e.account_key for e in self.azure]
        return tuple(value for value in found if value)


def _most_specific(
    entries: Sequence[_Entry],
    host_of: Callable[[_Entry], str | None],
    host: str | None,
    bucket_of: Callable[[_Entry], str | None],
    bucket: str | None,
) -> _Entry | None:
    best: _Entry | None = None
    best_rank = -1
    for entry in entries:
        entry_host, entry_bucket = host_of(entry), bucket_of(entry)
        if entry_host is not None and entry_host != host:
            continue
        if entry_bucket is not None and entry_bucket != bucket:
            continue
        rank = 2 * (entry_host is not None) + (entry_bucket is not None)
        if rank > best_rank:  # the first of equally specific entries wins
            best, best_rank = entry, rank
    return best


def load_storage_credentials(
    environ: Mapping[str, str] = os.environ, path: str | os.PathLike[str] | None = None
) -> StorageCredentials:
    """Read the ``[storage]`` tables; a missing file means no entries.

    A file that cannot be read, an unknown key or a value of the wrong kind raises
    ConfigError naming the file and the key (never the value: it may be a secret).
    """
    file_path = config_file_path(environ, path)
    if not file_path.is_file():
        return StorageCredentials()
    storage = read_config_tables(file_path).get("storage", {})
    if not isinstance(storage, dict):
        raise _bad(file_path, "storage", "must be a table ([storage.s3], [storage.gs], ...)")
    unknown = sorted(set(storage) - set(_KINDS))
    if unknown:
        raise _bad(file_path, f"storage.{unknown[0]}", "is not a storage kind; use s3, gs, azure")
    parsed: dict[str, tuple[Any, ...]] = {}
    for kind, (build, fields) in _KINDS.items():
        tables = storage.get(kind, [])
        if isinstance(tables, dict):  # [storage.s3] written once instead of [[storage.s3]]
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise _bad(file_path, f"storage.{kind}", f"must be tables: [[storage.{kind}]]")
        parsed[kind] = tuple(
            build(
                file_path,
                f"storage.{kind}[{i}]",
                _fields(file_path, f"storage.{kind}[{i}]", t, fields),
            )
            for i, t in enumerate(tables)
        )
    return StorageCredentials(**parsed, source=file_path)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be non-empty text")
    return value.strip()


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _fields(
    file_path: Path, where: str, table: dict[str, Any], fields: dict[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in fields:
            raise _bad(file_path, f"{where}.{key}", f"is unknown; known keys: {', '.join(fields)}")
        try:
            values[key] = fields[key](raw)
        except ValueError as exc:
            raise _bad(file_path, f"{where}.{key}", str(exc)) from None
    return values


_HOST_PORT = re.compile(r"[^\s/:@]+:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5}")


def _s3(file_path: Path, where: str, values: dict[str, Any]) -> S3Credentials:
    host = values.get("host")
    if host is not None:
        if not _HOST_PORT.fullmatch(host):
            raise _bad(
                file_path,
                f"{where}.host",
                "must be host:port as in s3://host:port/bucket "
                "(no scheme: secure = true selects https)",
            )
        values["host"] = host.lower()
    if ("key" in values) != ("secret" in values):
        raise _bad(file_path, f"{where}.secret", "key and secret must be given together")
    return S3Credentials(**values)


def _gs(file_path: Path, where: str, values: dict[str, Any]) -> GsCredentials:
    if "credentials_json" in values:
        values["credentials_json"] = os.path.expanduser(values["credentials_json"])
    return GsCredentials(**values)


def _azure(file_path: Path, where: str, values: dict[str, Any]) -> AzureCredentials:
    if "account_name" not in values:
        raise _bad(file_path, f"{where}.account_name", "is required")
    return AzureCredentials(**values)


_KINDS: dict[
    str, tuple[Callable[[Path, str, dict[str, Any]], Any], dict[str, Callable[[Any], Any]]]
] = {
    "s3": (
        _s3,
        {
            "host": _text,
            "bucket": _text,
            "key": _text,
            "secret": _text,
            "region": _text,
            "secure": _flag,
        },
    ),
    "gs": (_gs, {"bucket": _text, "project": _text, "credentials_json": _text}),
    "azure": (_azure, {"account_name": _text, "account_key": _text, "container": _text}),
}


def _bad(file_path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{file_path}: {key} {problem}", {"path": str(file_path), "key": key})

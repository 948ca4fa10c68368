"""``StorageContext``: what a storage call needs besides the URI (credentials, where
``tunelab://`` lives, the cache, the part size)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tunelab.storage.credentials import StorageCredentials, load_storage_credentials

if TYPE_CHECKING:
    from tunelab.sdk.config import SdkConfig

DEFAULT_PART_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class StorageContext:
    """The SDK sets ``server_url`` (``tunelab://`` goes over ``/api/v1/files``); the server
    sets ``files_root`` (``tunelab://`` is that folder) or, when its file store is in an
    object store, ``files_uri`` (``tunelab://key`` is ``<files_uri>/key``). Files over
    ``part_size`` go in parts.

    Example::

        ctx = StorageContext.from_config(load_config())
        stored = upload(Path("model.pt"), "s3://models/resnet/model.pt", ctx)
    """

    credentials: StorageCredentials = field(default_factory=StorageCredentials)
    server_url: str | None = None
    server_token: str | None = field(default=None, repr=False)
    files_root: Path | None = None
    files_uri: str | None = None
    cache_dir: Path = field(default_factory=lambda: Path("~/.cache/tunelab/storage").expanduser())
    part_size: int = DEFAULT_PART_SIZE

    @classmethod
    def from_config(cls, config: SdkConfig) -> StorageContext:
        """The SDK's context: the config file's ``[storage]`` tables and its server."""
        credentials = (
            load_storage_credentials(path=config.config_file)
            if config.config_file is not None
            else StorageCredentials()
        )
        return cls(
            credentials=credentials,
            server_url=config.api_urls[0],  # files go through the first of its replicas
            server_token=config.api_token,
        )

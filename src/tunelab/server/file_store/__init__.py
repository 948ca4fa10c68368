"""The server's own file store (``tunelab://`` keys): where it lives, and what it offers.

By default it is ``<data_dir>/files``. ``--file-store`` (``TUNELAB_FILE_STORE``) moves it to
a folder every replica mounts (``/mnt/shared/tunelab``) or to an object store
(``s3://host:port/bucket/prefix``, ``gs://bucket/prefix``, ``azure://...``), so several
server replicas serve the same files.

Example::

    store = file_store_for(settings, load_storage_credentials())
    writer = store.writer("vision/resnet/model.pt")
    writer.write(b"...")
    stored = writer.commit()          # StoredKey(key, size, sha256)
"""

from __future__ import annotations

from pathlib import Path

from tunelab.errors import ConfigError
from tunelab.server.file_store.interface import (
    MAX_PARTS,
    FileStore,
    FileWriter,
    StoredKey,
    StoredObject,
)
from tunelab.server.file_store.local import LocalFileStore
from tunelab.server.file_store.object_store import ObjectFileStore
from tunelab.server.settings import ServerSettings
from tunelab.storage import StorageContext, StorageCredentials, parse_destination

__all__ = [
    "MAX_PARTS",
    "FileStore",
    "FileWriter",
    "LocalFileStore",
    "ObjectFileStore",
    "StoredKey",
    "StoredObject",
    "file_store_for",
    "storage_context_for",
]


def file_store_for(
    settings: ServerSettings, credentials: StorageCredentials
) -> LocalFileStore | ObjectFileStore:
    """The store ``settings`` name: the data directory's, a shared folder, or a bucket."""
    if settings.file_store is None:
        return LocalFileStore(settings.data_dir)
    location = parse_destination(settings.file_store)
    if location.scheme == "file":
        return LocalFileStore(Path(location.path))
    store = ObjectFileStore(location, credentials)
    try:
        store.fs  # noqa: B018 - the back end is loaded now: a missing one stops the start
    except ImportError:
        package = {"s3": "s3fs", "gs": "gcsfs", "azure": "adlfs"}[location.scheme]
        extra = {"s3": "s3", "gs": "gcs", "azure": "azure"}[location.scheme]
        raise ConfigError(
            f"TUNELAB_FILE_STORE (--file-store) {location.uri} needs the {package} package: "
            f"pip install 'tunelab[{extra}]'"
        ) from None
    return store


def storage_context_for(
    store: LocalFileStore | ObjectFileStore, credentials: StorageCredentials
) -> StorageContext:
    """The server's storage context: ``tunelab://`` is its own store, other URIs use the
    config file's credentials (deleting the files of reset tasks, downloads)."""
    if isinstance(store, LocalFileStore):
        return StorageContext(credentials=credentials, files_root=store.root)
    return StorageContext(credentials=credentials, files_uri=store.files_uri)

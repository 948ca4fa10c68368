"""Object storage for artifacts and models: local folders, S3, GCS, Azure and the Tunelab
server's own file store, behind one small API (``docs/storage.md``).

Example::

    from tunelab.storage import StorageContext, download, join_uri, upload

    ctx = StorageContext()
    uri = join_uri("s3://127.0.0.1:8333/models", "resnet", "model.pt")
    stored = upload(Path("model.pt"), uri, ctx)          # StoredFile(uri, size, sha256)
    path = download(stored.uri, ctx, sha256=stored.sha256)

Importing this package loads neither fsspec nor any back end; the first call does.
"""

from tunelab.storage.context import StorageContext
from tunelab.storage.credentials import (
    AzureCredentials,
    GsCredentials,
    S3Credentials,
    StorageCredentials,
    load_storage_credentials,
)
from tunelab.storage.destination import Destination, join_uri, parse_destination, validate_key
from tunelab.storage.files import (
    StoredFile,
    delete,
    download,
    exists,
    file_sha256,
    filesystem,
    open_file,
    storage_options,
    upload,
)

__all__ = [
    "AzureCredentials",
    "Destination",
    "GsCredentials",
    "S3Credentials",
    "StorageContext",
    "StorageCredentials",
    "StoredFile",
    "delete",
    "download",
    "exists",
    "file_sha256",
    "filesystem",
    "join_uri",
    "load_storage_credentials",
    "open_file",
    "parse_destination",
    "storage_options",
    "upload",
    "validate_key",
]

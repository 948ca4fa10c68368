"""Storage URIs: what each form means, checked before anything touches a back end.

======================================================  =====================================
``/mnt/share/folder``, ``file:///mnt/share/folder``     a local or shared folder
``s3://bucket/folder``                                  AWS S3
``s3://host:port/bucket/folder``                        an S3-compatible service (the first
                                                        component has a port: the endpoint)
``gs://bucket/folder``                                  Google Cloud Storage
``azure://account.blob.core.windows.net/container/f``   Azure Blob storage
``tunelab://folder``                                    the Tunelab server's own file store
======================================================  =====================================

URIs are not percent-encoded: a key is the literal text after the bucket. Every path
component is a key component (no ``.``/``..``, no empty component, no ``\\`` or NUL), so a
URI never climbs out of its folder, whichever back end it lands on.

Example::

    uri = join_uri("s3://127.0.0.1:8333/models/team", "resnet", "model.pt")
    parse_destination(uri).endpoint      # "127.0.0.1:8333"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunelab.errors import InvalidInput

SCHEMES = ("file", "s3", "gs", "azure", "tunelab")
MAX_KEY_LENGTH = 1024
# A component is a file or folder name on disk: most file systems hold 255 bytes at most.
MAX_COMPONENT_BYTES = 255

# The fsspec protocol that serves each scheme.
_FSSPEC_PROTOCOLS = {"file": "file", "s3": "s3", "gs": "gs", "azure": "abfs", "tunelab": "tunelab"}

_FORMS = (
    "a local folder (/path or file:///path), s3://bucket/folder, s3://host:port/bucket/folder, "
    "gs://bucket/folder, azure://account.blob.core.windows.net/container/folder "
    "or tunelab://folder"
)
# Lenient on purpose: the service has the last word on names; this only stops typos early.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,220}[A-Za-z0-9]")
_AZURE_HOST = re.compile(r"([a-z0-9]{3,24})\.blob\.core\.windows\.net")
_CONTAINER = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")


@dataclass(frozen=True)
class Destination:
    """A parsed storage URI.

    ``path`` is what the back end calls the location: the absolute local path for
    ``file``, ``bucket/key`` for ``s3``/``gs``, ``container/key`` for ``azure``, the key for
    ``tunelab``. ``endpoint`` is the ``host:port`` of an S3-compatible service (None for
    AWS), ``account`` the Azure storage account.
    """

    uri: str
    scheme: str
    path: str
    endpoint: str | None = None
    account: str | None = None

    @property
    def protocol(self) -> str:
        """The fsspec protocol that serves this destination."""
        return _FSSPEC_PROTOCOLS[self.scheme]

    @property
    def bucket(self) -> str | None:
        """The S3/GCS bucket or Azure container; None for folders and the server store."""
        if self.scheme in ("s3", "gs", "azure"):
            return self.path.split("/", 1)[0]
        return None

    @property
    def key(self) -> str:
        """The path below the bucket (or below the store's root, for ``tunelab``)."""
        if self.scheme in ("s3", "gs", "azure"):
            return self.path.partition("/")[2]
        return self.path

    @property
    def name(self) -> str:
        """The last component: a file's name."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]


def parse_destination(uri: str) -> Destination:
    """Parse ``uri`` into a Destination; anything malformed is InvalidInput naming it."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(f"a storage URI must be non-empty text; use {_FORMS}")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in uri):
        raise InvalidInput(f"storage URI {_shown(uri)} contains a control character")
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return _local(uri, uri)
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidInput(f"storage URI {_shown(uri)} has an unknown scheme; use {_FORMS}")
    authority, _, path = rest.partition("/")
    if "@" in authority:
        raise InvalidInput(
            f"storage URI {_shown(uri)} carries credentials; put them in the [storage] "
            "tables of the config file instead"
        )
    if scheme == "file":
        if authority not in ("", "localhost"):
            raise InvalidInput(f"storage URI {_shown(uri)}: file:// URIs name a local path")
        return _local(uri, "/" + path)
    if scheme == "tunelab":
        key = _components(uri, "/".join(p for p in (authority, path) if p))
        return Destination(_rebuild("tunelab", key), "tunelab", key)
    if scheme == "s3":
        return _s3(uri, authority, path)
    if scheme == "gs":
        return _bucketed(uri, "gs", authority, path)
    return _azure(uri, authority, path)


def validate_key(key: str) -> str:
    """``key`` if it is a safe relative path (the file store's rule), else InvalidInput.

    Components are ``[^/\\x00]+``, never ``.`` or ``..``, at most 255 bytes of UTF-8 each;
    no leading ``/``, no ``\\``; at most 1024 characters. Path traversal is refused here,
    before any disk is touched.
    """
    if not key:
        raise InvalidInput("a file key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"a file key must be at most {MAX_KEY_LENGTH} characters")
    if key.startswith("/"):
        raise InvalidInput(f"file key {key!r} must be relative (no leading '/')")
    if "\\" in key or "\x00" in key:
        raise InvalidInput(f"file key {key!r} must not contain a backslash or NUL")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidInput(
                f"file key {key!r} has an empty, '.' or '..' component; keys are plain "
                "relative paths"
            )
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > MAX_COMPONENT_BYTES:
            raise InvalidInput(
                f"file key {_shown_key(key)} has a component of {size} bytes; a folder or "
                f"file name is at most {MAX_COMPONENT_BYTES} bytes (UTF-8)"
            )
    return key


def _shown_key(key: str) -> str:
    return repr(key) if len(key) <= 80 else repr(key[:60] + "…" + key[-15:])


def join_uri(destination: str, *parts: str) -> str:
    """``destination`` joined with relative ``parts`` (each may hold ``/``).

    The destination is validated, and so is every part: ``join_uri("s3://b/f", "../x")``
    is InvalidInput, never a path outside the folder.
    """
    base = parse_destination(destination).uri
    tail = "/".join(validate_key(part) for part in parts if part != "")
    if not tail:
        return base
    return base + tail if base.endswith("/") else f"{base}/{tail}"


def _local(uri: str, path: str) -> Destination:
    if not path.startswith("/"):
        raise InvalidInput(
            f"storage URI {_shown(uri)}: a local folder must be an absolute path; use {_FORMS}"
        )
    inner = _components(uri, path.lstrip("/"))
    absolute = "/" + inner
    shown = f"file://{absolute}" if uri.lower().startswith("file://") else absolute
    return Destination(shown, "file", absolute)


def _s3(uri: str, authority: str, path: str) -> Destination:
    if ":" not in authority:
        return _bucketed(uri, "s3", authority, path)
    host, _, port = authority.rpartition(":")
    if not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"storage URI {_shown(uri)}: the endpoint must be host:port")
    bucket, _, key = path.partition("/")
    if not bucket:
        raise InvalidInput(
            f"storage URI {_shown(uri)} names an endpoint but no bucket: "
            "use s3://host:port/bucket/folder"
        )
    inner = _bucket_path(uri, bucket, key)
    return Destination(_rebuild("s3", f"{authority}/{inner}"), "s3", inner, endpoint=authority)


def _bucketed(uri: str, scheme: str, bucket: str, key: str) -> Destination:
    inner = _bucket_path(uri, bucket, key)
    return Destination(_rebuild(scheme, inner), scheme, inner)


def _azure(uri: str, authority: str, path: str) -> Destination:
    match = _AZURE_HOST.fullmatch(authority.lower())
    if not match:
        raise InvalidInput(
            f"storage URI {_shown(uri)}: Azure URIs look like "
            "azure://account.blob.core.windows.net/container/folder"
        )
    container, _, key = path.partition("/")
    if not _CONTAINER.fullmatch(container):
        raise InvalidInput(f"storage URI {_shown(uri)} has no valid container name")
    key = _components(uri, key)
    inner = f"{container}/{key}" if key else container
    return Destination(
        _rebuild("azure", f"{authority.lower()}/{inner}"), "azure", inner, account=match.group(1)
    )


def _bucket_path(uri: str, bucket: str, key: str) -> str:
    if not _BUCKET.fullmatch(bucket):
        raise InvalidInput(f"storage URI {_shown(uri)} has no valid bucket name")
    key = _components(uri, key)
    return f"{bucket}/{key}" if key else bucket


def _components(uri: str, path: str) -> str:
    # A destination may end with "/" (or be a bucket's root); inner components must be plain.
    path = path.rstrip("/")
    if not path:
        return ""
    try:
        return validate_key(path)
    except InvalidInput as exc:
        raise InvalidInput(f"storage URI {_shown(uri)}: {exc.message}") from None


def _rebuild(scheme: str, path: str) -> str:
    return f"{scheme}://{path}"


def _shown(uri: str) -> str:
    # A URI pasted with "key:secret@" in it must not echo the secret back.
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return repr(f"{scheme}{sep}{rest}")

"""Files at storage URIs, through fsspec: upload, download (cached and verified), delete, exists.

One code path for every back end: the URI picks an fsspec filesystem (``file``, ``s3``,
``gs``, ``abfs``, ``tunelab``) and its options come from the ``[storage]`` credentials.
fsspec and the back ends are imported on first use, so ``import tunelab.storage`` stays cheap.

Example::

    ctx = StorageContext(cache_dir=Path("/tmp/cache"))
    stored = upload(Path("features.parquet"), "s3://127.0.0.1:8333/bucket/f.parquet", ctx)
    local = download(stored.uri, ctx, sha256=stored.sha256)   # cached, verified

Whatever the back end reports (access denied, a missing bucket, no answer) becomes a
StorageError whose sentence names the URI and where its credentials come from, never a
secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab.errors import ConfigError, InvalidInput, NotFound, StorageError, TunelabError
from tunelab.sdk.own_requests import own_request
from tunelab.storage.context import StorageContext
from tunelab.storage.credentials import StorageCredentials
from tunelab.storage.destination import Destination, join_uri, parse_destination

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem  # type: ignore[import-untyped]
    from fsspec.callbacks import Callback  # type: ignore[import-untyped]

Progress = Callable[[int, int], None]

_HASH_CHUNK = 4 * 1024 * 1024
# S3 refuses parts under 5 MiB (except the last).
_S3_MIN_PART = 5 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_EXTRAS = {"s3": "s3fs", "gs": "gcsfs", "azure": "adlfs"}
_ENVIRONMENT_HINTS = {
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS",
    "azure": "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_CONNECTION_STRING",
}
# What the back ends raise when they find no credentials at all (botocore, google-auth).
_NO_CREDENTIALS = frozenset({"NoCredentialsError", "DefaultCredentialsError"})
# Exceptions from these packages are the back end talking, not a bug in the caller.
_BACKEND_MODULES = frozenset(
    [
        "fsspec",
        "s3fs",
        "botocore",
        "aiobotocore",
        "aiohttp",
        "gcsfs",
        "google",
        "adlfs",
        "azure",
        "httpx",
        "httpcore",
    ]
)


@dataclass(frozen=True)
class StoredFile:
    uri: str
    size: int
    sha256: str


def upload(
    local: Path, uri: str, ctx: StorageContext, progress: Progress | None = None
) -> StoredFile:
    """Store the file ``local`` at ``uri`` (replacing what is there).

    Size and sha256 come from the local file (read once for the hash); files larger than
    ``ctx.part_size`` go in parts. ``progress(sent_bytes, total_bytes)`` may be called
    from a back end's own thread.
    """
    dest = _file_destination(uri)
    local = Path(local)
    if not local.is_file():
        raise InvalidInput(f"cannot upload {local}: not a file")
    size, sha256 = file_sha256(local)
    callback = _callback(progress, size)
    with _translated(dest, ctx, "upload to"):
        fs, path, is_local = _filesystem(dest, ctx)
        scheme = _served_by(dest, ctx).scheme
        if is_local:
            _put_local(fs, local, path)
        elif scheme == "s3":
            fs.put_file(str(local), path, callback=callback, chunksize=_s3_part_size(ctx))
        elif scheme == "tunelab":
            fs.put_file(str(local), path, callback=callback, sha256=sha256)
        else:
            fs.put_file(str(local), path, callback=callback)
    _finish(progress, size)
    return StoredFile(dest.uri, size, sha256)


def download(
    uri: str,
    ctx: StorageContext,
    *,
    sha256: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """A local copy of ``uri`` under ``ctx.cache_dir``.

    With ``sha256`` the copy is kept by hash: a cached copy that still matches is returned
    without any network access (a corrupted one is removed and fetched again), and a
    download that does not match is removed and raises StorageError.
    """
    dest = _file_destination(uri)
    expected = _checked_sha256(sha256) if sha256 is not None else None
    target = _cache_path(ctx.cache_dir, dest, expected)
    if expected is not None and target.is_file():
        size, found = file_sha256(target)
        if found == expected:
            _finish(progress, size)
            return target
        target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    try:
        with _translated(dest, ctx, "download"):
            fs, path, _ = _filesystem(dest, ctx)
            fs.get_file(path, str(partial), callback=_callback(progress, None))
        size, found = file_sha256(partial)
        if expected is not None and found != expected:
            raise StorageError(
                f"the download of {dest.uri} does not match its recorded sha256 "
                f"(expected {expected}, got {found}); the copy was removed",
                {"uri": dest.uri, "expected": expected, "actual": found},
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _finish(progress, size)
    return target


def delete(uri: str, ctx: StorageContext) -> None:
    """Remove the file at ``uri``; one already gone is not an error."""
    dest = _file_destination(uri)
    with _translated(dest, ctx, "delete"):
        fs, path, _ = _filesystem(dest, ctx)
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(path)


def open_file(uri: str, ctx: StorageContext) -> tuple[Any, int | None]:
    """The file at ``uri`` opened for reading (binary, file-like), and its size when the
    back end knows it; NotFound when nothing is stored there."""
    dest = _file_destination(uri)
    with _translated(dest, ctx, "read"):
        fs, path, _ = _filesystem(dest, ctx)
        try:
            handle = fs.open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"nothing is stored at {dest.uri}") from None
        try:
            size = fs.size(path)
        except (OSError, NotImplementedError):
            size = None
        except BaseException:
            handle.close()
            raise
    return handle, int(size) if size is not None else None


def exists(uri: str, ctx: StorageContext) -> bool:
    """Whether something is stored at ``uri`` (a missing bucket counts as no)."""
    dest = _file_destination(uri)
    with _translated(dest, ctx, "look up"):
        fs, path, _ = _filesystem(dest, ctx)
        try:
            fs.info(path)
        except FileNotFoundError:
            return False
    return True


def file_sha256(path: Path) -> tuple[int, str]:
    """``(size, sha256 hex)`` of a local file, read once in large chunks."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(_HASH_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            size += count
    return size, digest.hexdigest()


def filesystem(uri: str, ctx: StorageContext) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem and path that serve ``uri``: for reading a stored file
    directly (``fs.open(path)``) or inspecting what the back end was given."""
    dest = parse_destination(uri)
    with _translated(dest, ctx, "open"):
        fs, path, _ = _filesystem(dest, ctx)
    return fs, path


def storage_options(dest: Destination, credentials: StorageCredentials) -> dict[str, Any]:
    """The fsspec options for a cloud URI: its endpoint and its most specific credentials.

    With no matching entry, only what the URI says goes in; the back end then reads its
    own environment variables.
    """
    if dest.scheme == "s3":
        s3 = credentials.for_s3(dest.endpoint, dest.bucket)
        options: dict[str, Any] = {}
        if s3 is not None and s3.key is not None:
            options.update(key=s3.key, secret=s3.secret)
        if s3 is not None and s3.region is not None:
            options["client_kwargs"] = {"region_name": s3.region}
        if dest.endpoint is not None:
            scheme = "https" if s3 is not None and s3.secure else "http"
            options["endpoint_url"] = f"{scheme}://{dest.endpoint}"
            # Self-hosted services rarely have a DNS name per bucket.
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
        return options
    if dest.scheme == "gs":
        gs = credentials.for_gs(dest.bucket)
        options = {}
        if gs is not None and gs.project is not None:
            options["project"] = gs.project
        if gs is not None and gs.credentials_json is not None:
            options["token"] = gs.credentials_json
        return options
    if dest.scheme == "azure":
        azure = credentials.for_azure(dest.account, dest.bucket)
        options = {"account_name": dest.account}
        if azure is not None and azure.account_key is not None:
            options["account_key"] = azure.account_key
        return options
    return {}


def _filesystem(dest: Destination, ctx: StorageContext) -> tuple[AbstractFileSystem, str, bool]:
    """(filesystem, path, is a local folder)."""
    import fsspec

    if dest.scheme == "file":
        return fsspec.filesystem("file"), dest.path, True
    if dest.scheme == "tunelab":
        if ctx.files_root is not None:
            return fsspec.filesystem("file"), str(ctx.files_root / dest.path), True
        if ctx.files_uri is not None:
            return _filesystem(_served_by(dest, ctx), ctx)
        if not ctx.server_url:
            raise StorageError(
                f"{dest.uri} is in a Tunelab server's file store, and no server is set "
                "(api_url in the config file, or TUNELAB_API_URL)"
            )
        fsspec.register_implementation("tunelab", "tunelab.storage.server_fs.TunelabFileSystem")
        fs = fsspec.filesystem(
            "tunelab", server_url=ctx.server_url, token=ctx.server_token, part_size=ctx.part_size
        )
        return fs, dest.path, False
    return (
        fsspec.filesystem(dest.protocol, **storage_options(dest, ctx.credentials)),
        dest.path,
        False,
    )


def _served_by(dest: Destination, ctx: StorageContext) -> Destination:
    """Where ``dest`` is stored: a ``tunelab://`` key in a server's object-store file store
    is an object there; anything else is itself."""
    if dest.scheme == "tunelab" and ctx.files_root is None and ctx.files_uri is not None:
        return parse_destination(join_uri(ctx.files_uri, dest.path))
    return dest


def _put_local(fs: AbstractFileSystem, local: Path, path: str) -> None:
    # Copy next to the target, then rename: a reader never sees half a file.
    parent = fs._parent(path)
    fs.makedirs(parent, exist_ok=True)
    partial = f"{parent}/.{uuid.uuid4().hex}.partial"
    try:
        fs.put_file(str(local), partial)
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _file_destination(uri: str) -> Destination:
    dest = parse_destination(uri)
    if not dest.key or (dest.scheme == "file" and dest.path == "/"):
        raise InvalidInput(f"storage URI {dest.uri!r} names a folder or bucket, not a file")
    return dest


def _checked_sha256(value: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InvalidInput(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return value.lower()


def _cache_path(cache_dir: Path, dest: Destination, sha256: str | None) -> Path:
    # By content when the hash is known (two URIs, one copy); else by URI.
    if sha256 is not None:
        return cache_dir / "sha256" / sha256[:2] / sha256 / dest.name
    by_uri = hashlib.sha256(dest.uri.encode()).hexdigest()
    return cache_dir / "uri" / by_uri[:2] / by_uri / dest.name


def _s3_part_size(ctx: StorageContext) -> int:
    return max(ctx.part_size, _S3_MIN_PART)


def _callback(progress: Progress | None, total: int | None) -> Callback:
    from fsspec.callbacks import DEFAULT_CALLBACK, Callback

    if progress is None:
        return DEFAULT_CALLBACK

    def report(size: int | None, value: int, **_: Any) -> None:
        progress(value, size if size is not None else (total or value))

    return Callback(size=total, hooks={"progress": report})


def _finish(progress: Progress | None, size: int) -> None:
    # Local copies report nothing on the way; every transfer ends at its total.
    if progress is not None:
        progress(size, size)


@contextlib.contextmanager
def _translated(dest: Destination, ctx: StorageContext, doing: str) -> Iterator[None]:
    """Turn what a back end raised into a StorageError naming ``dest`` and its credentials."""
    try:
        with own_request():  # the back end's log lines are not the user's
            yield
    except TunelabError:
        raise
    except ImportError as exc:
        package = _EXTRAS.get(dest.scheme, "fsspec")
        raise StorageError(
            f"cannot {doing} {dest.uri}: the {package} package is not installed "
            f"(pip install 'tunelab[{dest.scheme}]')"
        ) from exc
    except Exception as exc:
        if not _from_backend(exc):
            raise
        if type(exc).__name__ in _NO_CREDENTIALS:
            # Nothing was asked of the service: the fix is a setting, not a retry.
            hint = _hint(dest, ctx)
            raise ConfigError(
                f"cannot {doing} {dest.uri}: there are no credentials for it"
                + (f"; {hint}" if hint else ""),
                {"uri": dest.uri},
            ) from exc
        raise StorageError(_message(dest, ctx, doing, exc), {"uri": dest.uri}) from exc


def _from_backend(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    return any(cls.__module__.split(".")[0] in _BACKEND_MODULES for cls in type(exc).__mro__)


def _message(dest: Destination, ctx: StorageContext, doing: str, exc: BaseException) -> str:
    reason = _scrubbed(str(exc) or type(exc).__name__, ctx)
    if isinstance(exc, PermissionError):
        text = f"access to {dest.uri} was denied ({reason})"
    elif isinstance(exc, FileNotFoundError) and dest.bucket:
        text = f"cannot {doing} {dest.uri}: no such file, or no bucket {dest.bucket!r} ({reason})"
    elif isinstance(exc, FileNotFoundError):
        text = f"cannot {doing} {dest.uri}: no such file"
    else:
        text = f"cannot {doing} {dest.uri}: {reason}"
    return f"{text}; {_hint(dest, ctx)}" if _hint(dest, ctx) else text


def _hint(dest: Destination, ctx: StorageContext) -> str:
    if dest.scheme == "tunelab":
        return "check api_url and api_token in the config file"
    if dest.scheme not in _ENVIRONMENT_HINTS:
        return ""
    source = ctx.credentials.source or "~/.config/tunelab/config.toml"
    which = {"s3": dest.endpoint or dest.bucket, "gs": dest.bucket, "azure": dest.account}
    return (
        f"check the [storage.{dest.scheme}] entry for {which[dest.scheme]} in {source} "
        f"(or {_ENVIRONMENT_HINTS[dest.scheme]})"
    )


def _scrubbed(text: str, ctx: StorageContext) -> str:
    secrets = [*ctx.credentials.secrets(), ctx.server_token or ""]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]

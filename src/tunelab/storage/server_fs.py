"""``tunelab://``: the Tunelab server's own file store as an fsspec filesystem.

Paths are file keys (``vision/resnet/train.<id>/artifacts/model.pt``); each operation is one
call to ``/api/v1/files`` (``docs/storage.md``). A file larger than ``part_size`` goes up as
a multi-part upload, hashed while it is read, so it is read once; the server checks size and
sha256 before the file appears under its key.

Errors come back as the exceptions fsspec callers expect: FileNotFoundError (404),
PermissionError (401/403), ConnectionError (no answer); any other error answer is the
``TunelabError`` the server raised.

Loaded by fsspec on first use of the protocol (``fsspec.filesystem("tunelab", ...)``), never
at ``import tunelab``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
from fsspec.callbacks import DEFAULT_CALLBACK, Callback  # type: ignore[import-untyped]
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem  # type: ignore[import-untyped]

from tunelab.errors import StorageError, TunelabError, from_code
from tunelab.storage.context import DEFAULT_PART_SIZE
from tunelab.storage.destination import validate_key

SHA256_HEADER = "X-Tunelab-Sha256"
_CHUNK = 1024 * 1024
_API_PREFIX = "/api/v1"


class TunelabFileSystem(AbstractFileSystem):  # type: ignore[misc]
    protocol = "tunelab"
    root_marker = ""

    def __init__(
        self,
        server_url: str,
        token: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        base = server_url.rstrip("/")
        if base.endswith(_API_PREFIX):
            base = base[: -len(_API_PREFIX)]
        self.api_url = base + _API_PREFIX
        self.part_size = part_size
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __repr__(self) -> str:
        return f"TunelabFileSystem({self.api_url!r})"

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        if text.startswith("tunelab://"):
            text = text[len("tunelab://") :]
        return text.strip("/")

    # ----- reading ----------------------------------------------------------------------

    def info(self, path: Any, **kwargs: Any) -> dict[str, Any]:
        key = self._strip_protocol(path)
        with self._client() as http:
            response = self._send(http, "HEAD", self._url(key), key)
        return {"name": key, "size": int(response.headers["content-length"]), "type": "file"}

    def cat_file(
        self, path: Any, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        key = self._strip_protocol(path)
        headers = {}
        if start is not None or end is not None:
            first = start or 0
            headers["Range"] = f"bytes={first}-{'' if end is None else end - 1}"
        with self._client() as http:
            return self._send(http, "GET", self._url(key), key, headers=headers).content

    def get_file(
        self,
        rpath: Any,
        lpath: Any,
        callback: Callback = DEFAULT_CALLBACK,
        outfile: Any = None,
        **kwargs: Any,
    ) -> None:
        key = self._strip_protocol(rpath)
        with (
            self._client() as http,
            _reaching(self.api_url),
            http.stream("GET", self._url(key)) as response,
        ):
            self._check(response, key)
            callback.set_size(int(response.headers.get("content-length", 0)) or None)
            with open(lpath, "wb") if outfile is None else contextlib.nullcontext(outfile) as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    callback.relative_update(len(chunk))

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> Any:
        if mode != "rb":
            raise NotImplementedError("tunelab:// files are written whole, with put_file")
        return _ServerFile(self, path, mode="rb", block_size=block_size or "default")

    # ----- writing ----------------------------------------------------------------------

    def put_file(
        self,
        lpath: Any,
        rpath: Any,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        **kwargs: Any,
    ) -> None:
        """Upload ``lpath``; ``sha256=`` (hex), when the caller knows it, is checked by the
        server before the file is stored."""
        key = self._strip_protocol(rpath)
        size = os.path.getsize(lpath)
        callback.set_size(size)
        expected: str | None = kwargs.get("sha256")
        with open(lpath, "rb") as source, self._client() as http:
            if size <= self.part_size:
                self._put_whole(http, key, source, size, expected, callback)
            else:
                self._put_parts(http, key, source, size, expected, callback)

    def _put_whole(
        self,
        http: httpx.Client,
        key: str,
        source: BinaryIO,
        size: int,
        expected: str | None,
        callback: Callback,
    ) -> None:
        # A known sha256 (upload() has read the file for it) is checked by the server as
        # the bytes arrive; hashing them again here would read nothing new.
        digest = None if expected else hashlib.sha256()
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        if expected:
            headers[SHA256_HEADER] = expected
        body = _chunks(source, size, digest, callback)
        answer = self._send(http, "PUT", self._url(key), key, headers=headers, content=body)
        _same_file(key, answer.json(), size, expected or _hex(digest))

    def _put_parts(
        self,
        http: httpx.Client,
        key: str,
        source: BinaryIO,
        size: int,
        expected: str | None,
        callback: Callback,
    ) -> None:
        started = self._send(http, "POST", self._url(key) + "/uploads", key)
        uploads = f"{self.api_url}/uploads/{started.json()['upload_id']}"
        try:
            digest = None if expected else hashlib.sha256()  # as in _put_whole
            count = 0
            for count, offset in enumerate(range(0, size, self.part_size), start=1):
                length = min(self.part_size, size - offset)
                body = _chunks(source, length, digest, callback)
                headers = {
                    "Content-Length": str(length),
                    "Content-Type": "application/octet-stream",
                }
                self._send(
                    http, "PUT", f"{uploads}/parts/{count}", key, headers=headers, content=body
                )
            # The server refuses to assemble parts whose hash is not this one.
            sha256 = expected or _hex(digest)
            done = {"parts": count, "size": size, "sha256": sha256}
            answer = self._send(http, "POST", f"{uploads}/complete", key, json=done)
            _same_file(key, answer.json(), size, sha256)
        except BaseException:
            with contextlib.suppress(httpx.HTTPError):
                http.delete(uploads)  # abort: the server drops the parts
            raise

    def rm_file(self, path: Any) -> None:
        key = self._strip_protocol(path)
        with self._client() as http:
            self._send(http, "DELETE", self._url(key), key)

    def _rm(self, path: Any) -> None:
        self.rm_file(path)

    # ----- HTTP -------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        # One client per operation: a filesystem instance lives in fsspec's cache for the
        # whole process, and an idle pooled connection would outlive its server. Loading the
        # CA bundle costs ~0.1 s per client: only for an https server (as ApiClient does);
        # redirects are not followed, so a plain-http client never talks TLS to anyone.
        tls = self.api_url.startswith("https://")
        return httpx.Client(headers=self._headers, timeout=self._timeout, verify=tls)

    def _url(self, key: str) -> str:
        return f"{self.api_url}/files/{quote(validate_key(key), safe='/')}"

    def _send(
        self, http: httpx.Client, method: str, url: str, key: str, **kwargs: Any
    ) -> httpx.Response:
        with _reaching(self.api_url):
            response = http.request(method, url, **kwargs)
        return self._check(response, key)

    def _check(self, response: httpx.Response, key: str) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        response.read()
        if status == 404:
            raise FileNotFoundError(f"no file {key!r} in the server's file store")
        message, code = _error_of(response)
        if status in (401, 403):
            raise PermissionError(message)
        raise from_code(code, message)


class _ServerFile(AbstractBufferedFile):  # type: ignore[misc]
    """Read-only random access (``fs.open(path)``) through HTTP range requests."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = self.fs.cat_file(self.path, start=start, end=end)
        return data


def _hex(digest: Any) -> str:
    return str(digest.hexdigest())


def _chunks(source: BinaryIO, length: int, digest: Any, callback: Callback) -> Iterator[bytes]:
    remaining = length
    while remaining:
        chunk = source.read(min(_CHUNK, remaining))
        if not chunk:
            raise StorageError("the file got shorter while it was being uploaded")
        remaining -= len(chunk)
        if digest is not None:
            digest.update(chunk)
        yield chunk
        callback.relative_update(len(chunk))


def _same_file(key: str, answer: dict[str, Any], size: int, sha256: str) -> None:
    if answer.get("size") != size or answer.get("sha256") != sha256:
        raise StorageError(
            f"the server stored {key!r} with a different size or sha256 than was sent"
        )


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        error = response.json()["error"]
        return str(error["message"]), str(error["code"])
    except (ValueError, KeyError, TypeError):
        return f"the server answered {response.status_code}", TunelabError.code


@contextlib.contextmanager
def _reaching(api_url: str) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise ConnectionError(f"cannot reach the Tunelab server at {api_url}: {exc}") from exc

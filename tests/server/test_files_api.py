"""The server's file store over HTTP (/api/v1/files, /api/v1/uploads), on the real server
process: whole files, multi-part uploads, and keys that try to leave files/."""

from __future__ import annotations

import hashlib
import http.client
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.answers import ok
from tests.services import ServerProcess


def _key() -> str:
    return f"tests/{uuid.uuid4().hex}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _partials(server: ServerProcess) -> list[Path]:
    return [p for p in (server.data_dir / "uploads").rglob("*.partial")]


def test_put_get_head_delete(client: httpx.Client, server: ServerProcess) -> None:
    key = f"{_key()}/model v1.bin"
    data = b"\x00\x01weights" * 1000

    stored = ok(client.put(f"/files/{key}", content=data), 201)

    assert stored == {"key": key, "size": len(data), "sha256": _sha(data)}
    assert (server.data_dir / "files" / key).read_bytes() == data
    got = client.get(f"/files/{key}")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    head = client.head(f"/files/{key}")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
    assert head.content == b""

    assert client.delete(f"/files/{key}").status_code == 204
    missing = client.get(f"/files/{key}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert client.delete(f"/files/{key}").status_code == 404
    # The folders the file leaves empty go with it.
    assert not (server.data_dir / "files" / key).parent.exists()


def test_a_put_replaces_and_reads_ranges(client: httpx.Client) -> None:
    key = f"{_key()}/f.txt"
    ok(client.put(f"/files/{key}", content=b"first"), 201)
    ok(client.put(f"/files/{key}", content=b"0123456789"), 201)
    assert client.get(f"/files/{key}").content == b"0123456789"
    part = client.get(f"/files/{key}", headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"


def test_a_matching_sha256_header_is_accepted(client: httpx.Client) -> None:
    key = f"{_key()}/f.bin"
    headers = {"X-Tunelab-Sha256": _sha(b"abc").upper()}
    assert ok(client.put(f"/files/{key}", content=b"abc", headers=headers), 201)["size"] == 3


def test_a_sha256_mismatch_stores_nothing(client: httpx.Client, server: ServerProcess) -> None:
    key = f"{_key()}/f.bin"
    answer = client.put(f"/files/{key}", content=b"abc", headers={"X-Tunelab-Sha256": "0" * 64})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_input"
    assert "nothing was stored" in answer.json()["error"]["message"]
    assert client.get(f"/files/{key}").status_code == 404
    assert not (server.data_dir / "files" / key).exists()
    assert _partials(server) == []
    bad = client.put(f"/files/{key}", content=b"abc", headers={"X-Tunelab-Sha256": "xyz"})
    assert bad.status_code == 400


TRAVERSALS = [
    "../../{name}",
    "%2e%2e/%2e%2e/{name}",
    "a/%2E%2E/%2E%2E/%2E%2E/{name}",
    "a/../../{name}",
    "/tmp/{name}",
    "%2Ftmp%2F{name}",
    "a%5C..%5C..%5C{name}",
    "..\\..\\{name}",
    "a%00/{name}",
    "./{name}",
    "a//{name}",
    "",
]


def _raw(server: ServerProcess, method: str, path: str, body: bytes = b"") -> int:
    # http.client sends the path exactly as given: no client-side normalisation of "..".
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname or "", host.port, timeout=30)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize("template", TRAVERSALS)
def test_keys_that_leave_the_store_are_refused(server: ServerProcess, template: str) -> None:
    name = f"evil-{uuid.uuid4().hex}"
    key = template.format(name=name)

    assert _raw(server, "PUT", f"/api/v1/files/{key}", b"owned") == 400
    assert _raw(server, "POST", f"/api/v1/files/{key}/uploads") in (400, 405)
    assert _raw(server, "GET", f"/api/v1/files/{key}") == 400
    assert _raw(server, "DELETE", f"/api/v1/files/{key}") == 400

    everywhere = server.data_dir.parent
    assert list(everywhere.rglob(f"*{name}*")) == []
    assert list(Path("/tmp").glob(f"*{name}*")) == []


def test_a_file_cannot_replace_a_folder(client: httpx.Client) -> None:
    key = _key()
    ok(client.put(f"/files/{key}/a/b.txt", content=b"b"), 201)
    folder = client.put(f"/files/{key}/a", content=b"x")
    assert folder.status_code == 409 and folder.json()["error"]["code"] == "conflict"
    under_file = client.put(f"/files/{key}/a/b.txt/c", content=b"x")
    assert under_file.status_code == 409
    assert client.get(f"/files/{key}/a").status_code == 404


def _start(client: httpx.Client, key: str) -> str:
    upload_id: str = ok(client.post(f"/files/{key}/uploads"), 201)["upload_id"]
    return upload_id


def test_multi_part_upload(client: httpx.Client, server: ServerProcess) -> None:
    key = f"{_key()}/big.bin"
    parts = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    upload_id = _start(client, key)
    for number in (2, 1, 3):  # parts may arrive in any order
        answer = ok(client.put(f"/uploads/{upload_id}/parts/{number}", content=parts[number - 1]))
        assert answer == {"part": number, "size": len(parts[number - 1])}
    assert client.get(f"/files/{key}").status_code == 404  # nothing visible before complete

    whole = b"".join(parts)
    body = {"parts": 3, "size": len(whole), "sha256": _sha(whole)}
    stored = ok(client.post(f"/uploads/{upload_id}/complete", json=body), 201)

    assert stored == {"key": key, "size": len(whole), "sha256": _sha(whole)}
    assert client.get(f"/files/{key}").content == whole
    assert not (server.data_dir / "uploads" / upload_id).exists()
    assert client.post(f"/uploads/{upload_id}/complete", json=body).status_code == 404


def test_complete_checks_parts_size_and_hash(client: httpx.Client, server: ServerProcess) -> None:
    key = f"{_key()}/f.bin"
    upload_id = _start(client, key)
    ok(client.put(f"/uploads/{upload_id}/parts/1", content=b"one"))
    ok(client.put(f"/uploads/{upload_id}/parts/3", content=b"three"))
    whole = b"onetwothree"

    def complete(parts: int, size: int, sha256: str) -> httpx.Response:
        body = {"parts": parts, "size": size, "sha256": sha256}
        return client.post(f"/uploads/{upload_id}/complete", json=body)

    missing = complete(3, len(whole), _sha(whole))
    assert missing.status_code == 400 and "missing part 2" in missing.json()["error"]["message"]
    ok(client.put(f"/uploads/{upload_id}/parts/2", content=b"two"))
    assert complete(3, len(whole) + 1, _sha(whole)).status_code == 400
    assert complete(2, 6, _sha(b"onetwo")).status_code == 400  # part 3 would be dropped
    assert complete(3, len(whole), _sha(b"other")).status_code == 400
    assert client.get(f"/files/{key}").status_code == 404
    assert _partials(server) == []

    # Nothing was lost: the upload is still open and completes once it is right.
    ok(complete(3, len(whole), _sha(whole)), 201)
    assert client.get(f"/files/{key}").content == whole


def test_abort_and_unknown_uploads(client: httpx.Client, server: ServerProcess) -> None:
    upload_id = _start(client, f"{_key()}/f.bin")
    ok(client.put(f"/uploads/{upload_id}/parts/1", content=b"x"))
    assert client.delete(f"/uploads/{upload_id}").status_code == 204
    assert not (server.data_dir / "uploads" / upload_id).exists()
    body = {"parts": 1, "size": 1, "sha256": _sha(b"x")}
    assert client.post(f"/uploads/{upload_id}/complete", json=body).status_code == 404
    assert client.put(f"/uploads/{upload_id}/parts/1", content=b"x").status_code == 404
    assert client.put(f"/uploads/{'0' * 32}/parts/1", content=b"x").status_code == 404
    assert client.put("/uploads/..%2F..%2Fx/parts/1", content=b"x").status_code in (404, 400)
    other = _start(client, f"{_key()}/g.bin")
    assert client.put(f"/uploads/{other}/parts/0", content=b"x").status_code == 400
    assert client.put(f"/uploads/{other}/parts/10001", content=b"x").status_code == 400
    assert client.post(f"/uploads/{other}/complete", json={"parts": 1}).status_code == 400

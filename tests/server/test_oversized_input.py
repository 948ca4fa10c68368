"""Input too big for what holds it: a file key whose folder or file name is longer than a
file system allows, and a binary scalar frame whose header is nested thousands deep. Each is
a 400 that says why, in the error envelope, on both databases; never a 500."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

import httpx
import pytest

from tests.server.answers import ok
from tests.services import api_without_tracebacks
from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, FRAME_MAGIC

LONG = "n" * 256  # one byte past a file name's limit
LONG_UTF8 = "é" * 128  # 128 characters, 256 bytes


@pytest.fixture(scope="module")
def http(
    tmp_path_factory: pytest.TempPathFactory, server_database: str | None
) -> Iterator[httpx.Client]:
    with api_without_tracebacks(tmp_path_factory.mktemp("oversized"), server_database) as client:
        yield client


@pytest.fixture(scope="module")
def task(http: httpx.Client) -> str:
    return str(ok(http.post("/tasks", json={"name": "t", "project": "oversized"}), 201)["id"])


def _refused_400(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text[:500])
    message = answer.json()["error"]["message"]
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("name", [LONG, LONG_UTF8], ids=["ascii", "utf8"])
@pytest.mark.parametrize("where", ["folder", "file"])
def test_a_file_key_with_a_name_too_long_for_a_file_system_is_refused(
    http: httpx.Client, name: str, where: str
) -> None:
    key = f"oversized/{name}/f.bin" if where == "folder" else f"oversized/{name}"
    _refused_400(http.put(f"/files/{key}", content=b"data"), "256 bytes", "255")
    for answer in (
        http.get(f"/files/{key}"),
        http.delete(f"/files/{key}"),
        http.post(f"/files/{key}/uploads"),
    ):
        _refused_400(answer, "256 bytes")
    assert http.head(f"/files/{key}").status_code == 400


def test_a_file_key_at_the_limit_is_stored(http: httpx.Client) -> None:
    """255 bytes is a name every common file system holds."""
    key = f"oversized/{'é' * 127}x/{'n' * 255}"
    ok(http.put(f"/files/{key}", content=b"data"), 201)
    assert http.get(f"/files/{key}").content == b"data"


def _frame(header: bytes, arrays: bytes = b"") -> bytes:
    return FRAME_MAGIC + struct.pack("<I", len(header)) + header + arrays


@pytest.mark.parametrize("depth", [3000, 100_000])
def test_a_scalar_frame_whose_header_nests_thousands_deep_is_refused(
    http: httpx.Client, task: str, depth: int
) -> None:
    header = b"[" * depth + b"]" * depth
    answer = http.post(
        f"/tasks/{task}/scalars/frame",
        content=_frame(header),
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    )
    _refused_400(answer, "nested")


def test_a_scalar_frame_nested_inside_its_series_is_refused(http: httpx.Client, task: str) -> None:
    header = b'{"series": [' + b"[" * 3000 + b"]" * 3000 + b"]}"
    answer = http.post(
        f"/tasks/{task}/scalars/frame",
        content=_frame(header),
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    )
    _refused_400(answer, "nested")


def test_a_well_formed_frame_is_still_stored(http: httpx.Client, task: str) -> None:
    """The positive control: the same route stores a real frame."""
    series = {"metric": "loss", "variant": "train", "count": 2}
    header = json.dumps({"batch_id": "ok", "series": [series]}).encode()
    arrays = struct.pack("<2q", 0, 1) + struct.pack("<2d", 1.0, 0.5) + struct.pack("<2d", 1, 2)
    answer = http.post(
        f"/tasks/{task}/scalars/frame",
        content=_frame(header, arrays),
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    )
    assert ok(answer)["stored"] == 2

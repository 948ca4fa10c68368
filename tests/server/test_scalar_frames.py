"""The binary scalar frame the SDK sends: the same batch as JSON, decoded from raw bytes,
with the same refusals (and nothing stored when refused)."""

from __future__ import annotations

import math
import struct
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.test_scalars_api import create_task
from tests.services import ServerProcess
from tunelab.domain.scalar_wire import (
    FRAME_CONTENT_TYPE,
    encode_frame,
    pack_floats_raw,
    pack_ints_raw,
)


def series(metric: str, its: list[int], vals: list[float]) -> dict[str, Any]:
    return {
        "metric": metric,
        "variant": "v",
        "iterations": pack_ints_raw(its),
        "values": pack_floats_raw(vals),
        "timestamps": pack_floats_raw([1.7e9 + i for i in its]),
    }


def post(client: httpx.Client, task_id: str, frame: bytes) -> httpx.Response:
    return client.post(
        f"/tasks/{task_id}/scalars/frame",
        content=frame,
        headers={"Content-Type": FRAME_CONTENT_TYPE},
    )


def test_a_frame_stores_like_json_and_dedupes(client: httpx.Client) -> None:
    task_id = create_task(client)
    frame = encode_frame(
        batch_id := uuid.uuid4().hex,
        [series("loss", [0, 1, 2], [1.0, math.nan, 0.25]), series("acc", [5], [0.9])],
    )
    first = post(client, task_id, frame)
    assert first.json() == {"stored": 4, "duplicate": False}
    again = post(client, task_id, frame)
    assert again.json() == {"stored": 0, "duplicate": True}
    data = client.get(f"/tasks/{task_id}/scalars", params={"max_points": 0}).json()
    assert data["metrics"]["loss"]["v"]["y"] == [1.0, None, 0.25]
    assert data["metrics"]["acc"]["v"]["x"] == [5]
    summary = client.get(f"/tasks/{task_id}/metrics").json()["metrics"]["loss"]["v"]
    assert (summary["min"], summary["max"], summary["count"]) == (0.25, 1.0, 3)
    assert batch_id


def _header(header: bytes, arrays: bytes = b"") -> bytes:
    return b"TLS1" + struct.pack("<I", len(header)) + header + arrays


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"JUNK", "not a scalar frame"),
        (b"TLS1\xff\xff\x00\x00{}", "runs past the end"),
        (_header(b"{not json"), "not UTF-8 JSON"),
        (_header(b'{"series": []}'), "header is invalid"),
        (_header(b'{"series": [{"metric": "", "variant": "v", "count": 1}]}'), "header is invalid"),
        (
            _header(b'{"series": [{"metric": "m", "variant": "v", "count": 2}]}', b"\0" * 24),
            "announces 2 points",
        ),
        (
            encode_frame(
                None,
                [
                    {
                        **series("m", [0, 1], [1.0, 2.0]),
                        "timestamps": pack_floats_raw([math.inf, 1.0]),
                    }
                ],
            ),
            "timestamps must be finite",
        ),
    ],
)
def test_a_bad_frame_is_a_400_and_stores_nothing(
    client: httpx.Client, frame: bytes, message: str
) -> None:
    task_id = create_task(client)
    answer = post(client, task_id, frame)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"
    assert message in answer.json()["error"]["message"]
    assert client.get(f"/tasks/{task_id}/metrics").json()["metrics"] == {}


def test_unknown_task_is_a_404(client: httpx.Client) -> None:
    answer = post(client, "0" * 32, encode_frame(None, [series("m", [0], [1.0])]))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_a_frame_over_the_point_limit_is_a_413(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", env={"TUNELAB_MAX_BATCH_POINTS": "100"})
    server.start()
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=60) as client:
            task_id = create_task(client)
            frame = encode_frame(None, [series("m", list(range(101)), [0.0] * 101)])
            answer = post(client, task_id, frame)
            assert answer.status_code == 413
            assert answer.json()["error"]["code"] == "payload_too_large"
            assert client.get(f"/tasks/{task_id}/metrics").json()["metrics"] == {}
    finally:
        server.stop()

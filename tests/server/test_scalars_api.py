"""The scalar routes on a real server process: ingest, dedupe, reads, summaries, refusals."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.services import ServerProcess
from tunelab.domain.scalar_wire import pack_floats, pack_ints

UNKNOWN = "0" * 32


def create_task(client: httpx.Client) -> str:
    response = client.post(
        "/tasks", json={"name": "scalars", "project": f"tests/{uuid.uuid4().hex[:8]}"}
    )
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


def wire(metric: str, variant: str, its: Any, vals: Any, ts: Any = None) -> dict[str, Any]:
    """A series as the SDK sends it: base64 little-endian arrays."""
    stamps = [1.7e9 + i for i in range(len(its))] if ts is None else ts
    return {
        "metric": metric,
        "variant": variant,
        "iterations": pack_ints([int(i) for i in its]),
        "values": pack_floats([float(v) for v in vals]),
        "timestamps": pack_floats([float(t) for t in stamps]),
    }


def post(client: httpx.Client, task: str, *series: dict[str, Any], batch_id: str | None = None):
    body: dict[str, Any] = {"series": list(series)}
    if batch_id is not None:
        body["batch_id"] = batch_id
    return client.post(f"/tasks/{task}/scalars", json=body)


def series_of(client: httpx.Client, task: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/tasks/{task}/scalars", params=params)
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def test_base64_batch_reads_back_exactly(client: httpx.Client) -> None:
    task = create_task(client)
    answer = post(
        client,
        task,
        wire("loss", "train", [0, 1, 2], [0.5, 0.25, 0.125], [10.5, 11.5, 12.5]),
        wire("loss", "val", [2], [0.3]),
        batch_id=uuid.uuid4().hex,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 4, "duplicate": False}
    metrics = series_of(client, task)
    assert metrics["loss"]["train"] == {
        "x": [0, 1, 2],
        "y": [0.5, 0.25, 0.125],
        "t": [10.5, 11.5, 12.5],
        "total": 3,
        "downsampled": False,
    }
    assert metrics["loss"]["val"]["y"] == [0.3]
    assert client.get(f"/tasks/{task}").json()["last_iteration"] == 2


def test_json_lists_are_accepted_too(client: httpx.Client) -> None:
    task = create_task(client)
    series = {
        "metric": "acc",
        "variant": "val",
        "iterations": [0, 5, 10.0],
        "values": [1, 0.5, 0.75],
        "timestamps": [1.0, 2.0, 3],
    }
    assert post(client, task, series).json() == {"stored": 3, "duplicate": False}
    got = series_of(client, task)["acc"]["val"]
    assert (got["x"], got["y"], got["t"]) == ([0, 5, 10], [1.0, 0.5, 0.75], [1.0, 2.0, 3.0])


def test_retried_batch_is_stored_once(client: httpx.Client) -> None:
    task = create_task(client)
    batch_id = uuid.uuid4().hex
    first = post(client, task, wire("loss", "train", [0, 1], [2.0, 1.0]), batch_id=batch_id)
    retry = post(client, task, wire("loss", "train", [0, 1], [2.0, 1.0]), batch_id=batch_id)
    assert first.json() == {"stored": 2, "duplicate": False}
    assert retry.json() == {"stored": 0, "duplicate": True}
    assert series_of(client, task)["loss"]["train"]["x"] == [0, 1]
    assert client.get(f"/tasks/{task}/metrics").json()["metrics"]["loss"]["train"]["count"] == 2


def test_summary_and_non_finite_values(client: httpx.Client) -> None:
    task = create_task(client)
    post(client, task, wire("loss", "train", [0, 1, 2], [4.0, math.nan, 1.5], [10, 11, 12]))
    post(client, task, wire("loss", "train", [3, 4], [math.inf, 2.5], [13, 14]))
    post(client, task, wire("loss", "diverged", [0, 1], [1.0, math.nan], [10, 11]))
    summary = client.get(f"/tasks/{task}/metrics").json()["metrics"]["loss"]
    assert summary["train"] == {
        "last": 2.5,
        "last_iter": 4,
        "min": 1.5,
        "min_iter": 2,
        "max": 4.0,
        "max_iter": 0,
        "count": 5,
        "last_time": 14.0,
    }
    assert summary["diverged"]["last"] is None
    assert summary["diverged"]["last_iter"] == 1
    assert series_of(client, task)["loss"]["train"]["y"] == [4.0, None, 1.5, None, 2.5]


def test_a_spike_survives_downsampling_and_max_points_zero_reads_all(
    client: httpx.Client,
) -> None:
    task = create_task(client)
    n = 100_000
    values = np.linspace(2.0, 0.1, n)
    values[83_210] = 99.0
    for start in range(0, n, 20_000):
        its = range(start, start + 20_000)
        post(client, task, wire("loss", "train", its, values[start : start + 20_000]))
    default = series_of(client, task)["loss"]["train"]
    assert default["total"] == n and default["downsampled"] is True
    assert len(default["x"]) <= 2000
    assert default["x"][default["y"].index(99.0)] == 83_210
    assert default["x"][0] == 0 and default["x"][-1] == n - 1
    full = series_of(client, task, max_points=0)["loss"]["train"]
    assert full["downsampled"] is False
    assert full["x"] == list(range(n))
    assert full["y"] == values.tolist()


def test_filters_and_many_task_read(client: httpx.Client) -> None:
    first, second = create_task(client), create_task(client)
    for task, offset in ((first, 0.0), (second, 10.0)):
        post(
            client,
            task,
            wire("loss", "train", [0], [1.0 + offset]),
            wire("loss", "val", [0], [2.0 + offset]),
            wire("acc", "val", [0], [3.0 + offset]),
        )
    only = series_of(client, first, metric="loss", variant="val")
    assert list(only) == ["loss"] and list(only["loss"]) == ["val"]
    response = client.get(
        "/scalars", params={"task": [first, second], "metric": ["acc"], "max_points": 10}
    )
    assert response.status_code == 200, response.text
    by_task = response.json()["tasks"]
    assert set(by_task) == {first, second}
    assert by_task[first]["metrics"]["acc"]["val"]["y"] == [3.0]
    assert by_task[second]["metrics"]["acc"]["val"]["y"] == [13.0]
    assert "loss" not in by_task[second]["metrics"]


def test_task_without_scalars_reads_empty(client: httpx.Client) -> None:
    task = create_task(client)
    assert series_of(client, task) == {}
    assert client.get(f"/tasks/{task}/metrics").json() == {"metrics": {}}


GOOD = wire("good", "series", [0, 1], [1.0, 2.0])


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ({**GOOD, "iterations": "not base64!"}, "base64"),
        ({**GOOD, "values": "AAAA"}, "multiple of 8"),
        ({**GOOD, "values": pack_floats([1.0])}, "same length"),
        (wire("m", "v", [], []), "no points"),
        ({**GOOD, "iterations": [0, 1.5]}, "whole numbers"),
        ({**GOOD, "iterations": [0, 2**70]}, "whole numbers"),
        ({**GOOD, "timestamps": pack_floats([1.0, math.nan])}, "timestamps must be finite"),
        ({**GOOD, "timestamps": pack_floats([math.inf, 1.0])}, "timestamps must be finite"),
        ({**GOOD, "metric": ""}, "metric"),
        ({**GOOD, "variant": "x" * 513}, "variant"),
        ({**GOOD, "metric": "a\x00b"}, "NUL"),
        ({**GOOD, "values": [1.0, True]}, "values"),
        ({**GOOD, "values": [1.0, "2"]}, "values"),
        ({**GOOD, "extra": 1}, "extra"),
        ({k: v for k, v in GOOD.items() if k != "timestamps"}, "timestamps"),
    ],
)
def test_bad_series_is_refused_and_nothing_is_stored(
    client: httpx.Client, bad: dict[str, Any], complaint: str
) -> None:
    task = create_task(client)
    batch_id = uuid.uuid4().hex
    error = assert_error(post(client, task, GOOD, bad, batch_id=batch_id), 400, "invalid_input")
    assert complaint in error["message"]
    assert series_of(client, task) == {}
    assert client.get(f"/tasks/{task}/metrics").json() == {"metrics": {}}
    # The refused batch's id was not spent: the corrected batch is stored.
    assert post(client, task, GOOD, batch_id=batch_id).json()["duplicate"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"series": []},
        {"batch_id": "", "series": [GOOD]},
        {"batch_id": "x" * 61, "series": [GOOD]},
        {"series": [GOOD], "unknown": 1},
    ],
)
def test_malformed_batch_is_refused(client: httpx.Client, body: dict[str, Any]) -> None:
    task = create_task(client)
    assert_error(client.post(f"/tasks/{task}/scalars", json=body), 400, "invalid_input")
    assert series_of(client, task) == {}


@pytest.mark.parametrize("max_points", ["-1", "10000001", "many"])
def test_bad_max_points_is_refused(client: httpx.Client, max_points: str) -> None:
    task = create_task(client)
    response = client.get(f"/tasks/{task}/scalars", params={"max_points": max_points})
    assert_error(response, 400, "invalid_input")


def test_unknown_task_is_404_everywhere(client: httpx.Client) -> None:
    known = create_task(client)
    assert_error(post(client, UNKNOWN, GOOD), 404, "not_found")
    assert_error(client.get(f"/tasks/{UNKNOWN}/scalars"), 404, "not_found")
    assert_error(client.get(f"/tasks/{UNKNOWN}/metrics"), 404, "not_found")
    error = assert_error(
        client.get("/scalars", params={"task": [known, UNKNOWN]}), 404, "not_found"
    )
    assert UNKNOWN in error["message"]


def test_many_task_read_needs_a_task(client: httpx.Client) -> None:
    assert_error(client.get("/scalars"), 400, "invalid_input")


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose batch limit is 1000 points, to reach it without a huge body."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUNELAB_MAX_BATCH_POINTS", "1000")
        proc = ServerProcess(Path(tmp_path_factory.mktemp("small-batches")))
        proc.start()
    yield proc.url
    proc.stop()


def test_batch_over_the_point_limit_is_413_and_stores_nothing(small_server: str) -> None:
    with httpx.Client(base_url=f"{small_server}/api/v1", timeout=60) as client:
        task = create_task(client)
        at_limit = [
            wire("m", "a", range(600), [0.0] * 600),
            wire("m", "b", range(400), [0.0] * 400),
        ]
        over = [*at_limit, wire("m", "c", [0], [1.0])]
        assert_error(post(client, task, *over), 413, "payload_too_large")
        assert series_of(client, task) == {}
        assert post(client, task, *at_limit).json() == {"stored": 1000, "duplicate": False}

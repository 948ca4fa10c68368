"""A training loop's calls through MLflow's client into ``/mlflow``: metrics one at a time,
queued (``synchronous=False``) and in batches, and a metric's history read back in pages,
every point in step order with its value and timestamp, on a real server asking for login."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from tests.accounts import login_server
from tests.services import ServerProcess

STAMP = 1_700_000_000_000
# A double as proto3 JSON writes the ones JSON has no number for.
SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass
class Logging:
    server: ServerProcess
    client: MlflowClient
    experiment_id: str
    api: str
    headers: dict[str, str]
    outsider: dict[str, str]


@pytest.fixture(scope="module")
def logging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logging]:
    root = tmp_path_factory.mktemp("mlflow-logging")
    with login_server(root / "server", {"root": "admin", "bob": "member", "eve": "member"}) as (
        server,
        clients,
    ):
        keys = {n: str(c.headers["authorization"]).split(" ", 1)[1] for n, c in clients.items()}
        saved = os.environ.get("MLFLOW_TRACKING_TOKEN")
        os.environ["MLFLOW_TRACKING_TOKEN"] = keys["bob"]
        try:
            client = MlflowClient(tracking_uri=f"{server.url}/mlflow")
            yield Logging(
                server,
                client,
                client.create_experiment("logging/loop"),
                f"{server.url}/mlflow/api/2.0/mlflow",
                {"Authorization": f"Bearer {keys['bob']}"},
                {"Authorization": f"Bearer {keys['eve']}"},
            )
        finally:
            if saved is None:
                os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
            else:
                os.environ["MLFLOW_TRACKING_TOKEN"] = saved


def _double(value: float | str) -> float:
    return SPECIAL[value] if isinstance(value, str) else value


def _run(logging: Logging) -> str:
    return str(logging.client.create_run(logging.experiment_id).info.run_id)


def test_single_and_queued_log_metric_calls_land_every_point(logging: Logging) -> None:
    client = logging.client
    run = _run(logging)
    for step in range(30):
        client.log_metric(run, "train/loss", 1 / (step + 1), timestamp=STAMP + step, step=step)
    queued = [
        client.log_metric(run, "val/acc", step / 400, STAMP + 7 * step, step, synchronous=False)
        for step in range(200)
    ]
    for operation in queued:
        operation.wait()
    loss = client.get_metric_history(run, "train/loss")
    assert [(m.step, m.value, m.timestamp) for m in loss] == [
        (step, 1 / (step + 1), STAMP + step) for step in range(30)
    ]
    acc = client.get_metric_history(run, "val/acc")
    assert [(m.step, m.value, m.timestamp) for m in acc] == [
        (step, step / 400, STAMP + 7 * step) for step in range(200)
    ]
    assert {m.key for m in acc} == {"val/acc"}
    assert client.get_run(run).data.metrics == {"train/loss": 1 / 30, "val/acc": 199 / 400}


def test_a_history_of_many_pages_reads_back_whole_and_in_step_order(logging: Logging) -> None:
    """Batches logged out of step order, a step logged twice, NaN and the infinities: the
    pages of ``max_results`` together are every point by step (the order logged within a
    step), and MLflow's client, paging 25,000 at a time, reads the same."""
    client = logging.client
    run = _run(logging)
    expected: list[tuple[int, float, int]] = []
    # 26 batches: steps 1,000-25,999 first, then 0-999 (a second page's worth arrives first).
    for first in [*range(1000, 26_000, 1000), 0]:
        points = [(s, s / 10, STAMP + s) for s in range(first, first + 1000)]
        client.log_batch(run, metrics=[Metric("loss", v, t, s) for s, v, t in points])
        expected += points
    again = [(25_999, -1.0, STAMP), (7, math.nan, STAMP + 1), (8, math.inf, STAMP + 2)]
    client.log_batch(run, metrics=[Metric("loss", v, t, s) for s, v, t in again])
    expected = sorted([*expected, *again], key=lambda p: p[0])  # stable: first logged first

    def same(read: list[tuple[int, float, int]]) -> bool:
        return len(read) == len(expected) and all(
            (s, t) == (es, et) and (v == ev or (math.isnan(v) and math.isnan(ev)))
            for (s, v, t), (es, ev, et) in zip(read, expected, strict=True)
        )

    paged: list[tuple[int, float, int]] = []
    token, pages = "", 0
    while True:
        params = {"run_id": run, "metric_key": "loss", "max_results": "10000"}
        if token:
            params["page_token"] = token
        page = httpx.get(
            f"{logging.api}/metrics/get-history", params=params, headers=logging.headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        paged += [(m["step"], _double(m["value"]), m["timestamp"]) for m in body["metrics"]]
        pages += 1
        token = body.get("next_page_token", "")
        if not token:
            break
    assert pages == 3
    assert same(paged)
    history = client.get_metric_history(run, "loss")
    assert same([(m.step, m.value, m.timestamp) for m in history])


def test_metric_writes_are_checked_and_all_or_nothing(logging: Logging) -> None:
    run = _run(logging)
    api, headers = logging.api, logging.headers
    point = {"run_id": run, "key": "loss", "value": 0.5, "timestamp": STAMP, "step": 3}
    for body, status, code in [
        ({**point, "run_id": "0" * 32}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({**point, "value": "high"}, 400, "INVALID_PARAMETER_VALUE"),
        ({**point, "key": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ({k: v for k, v in point.items() if k != "timestamp"}, 400, "INVALID_PARAMETER_VALUE"),
    ]:
        refused = httpx.post(f"{api}/runs/log-metric", json=body, headers=headers)
        assert (refused.status_code, refused.json()["error_code"]) == (status, code), body
    # The metrics of a batch whose tag is refused are not stored either.
    batch = {"run_id": run, "metrics": [point], "tags": [{"key": "", "value": "x"}]}
    refused = httpx.post(f"{api}/runs/log-batch", json=batch, headers=headers)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    # Another member without a role on the project may neither write nor read the run.
    for path, body in [("log-metric", point), ("log-batch", {"run_id": run, "metrics": [point]})]:
        other = httpx.post(f"{api}/runs/{path}", json=body, headers=logging.outsider)
        assert (other.status_code, other.json()["error_code"]) == (403, "PERMISSION_DENIED")
    query = {"run_id": run, "metric_key": "loss"}
    other = httpx.get(f"{api}/metrics/get-history", params=query, headers=logging.outsider)
    assert (other.status_code, other.json()["error_code"]) == (403, "PERMISSION_DENIED")
    anonymous = httpx.get(f"{api}/metrics/get-history", params=query)
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "UNAUTHENTICATED")
    empty = httpx.get(f"{api}/metrics/get-history", params=query, headers=headers)
    assert empty.json() == {"metrics": []}

    stored = httpx.post(f"{api}/runs/log-metric", json=point, headers=headers)
    assert (stored.status_code, stored.json()) == (200, {})
    history = httpx.get(f"{api}/metrics/get-history", params=query, headers=headers).json()
    # As MLflow's server answers it: no run id in each point.
    assert history == {"metrics": [{"key": "loss", "value": 0.5, "timestamp": STAMP, "step": 3}]}
    bad_token = httpx.get(
        f"{api}/metrics/get-history", params={**query, "page_token": "x"}, headers=headers
    )
    assert (bad_token.status_code, bad_token.json()["error_code"]) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )


def _history(logging: Logging, run: str, key: str) -> list[tuple[int, float, int]]:
    query = {"run_id": run, "metric_key": key}
    page = httpx.get(f"{logging.api}/metrics/get-history", params=query, headers=logging.headers)
    assert page.status_code == 200, page.text
    return [(m["step"], _double(m["value"]), m["timestamp"]) for m in page.json()["metrics"]]


def _same_points(
    read: list[tuple[int, float, int]], expected: list[tuple[int, float, int]]
) -> bool:
    return len(read) == len(expected) and all(
        (s, t) == (es, et) and (v == ev or (math.isnan(v) and math.isnan(ev)))
        for (s, v, t), (es, ev, et) in zip(read, expected, strict=True)
    )


def test_a_batch_of_mixed_metrics_reads_back_as_logged(logging: Logging) -> None:
    """Keys interleaved, steps out of order and repeated, NaN and the infinities, params and
    tags beside them: each key's history is its points by step (the order logged within a
    step), through MLflow's client and as proto3 JSON writes the values by hand."""
    client = logging.client
    run = _run(logging)
    big = 2**62
    logged: dict[str, list[tuple[int, float, int]]] = {"loss": [], "train/acc": [], "a/b/c": []}
    metrics = []
    for i in range(300):
        key = ("loss", "train/acc", "a/b/c")[i % 3]
        step = (i * 7919) % 101 - 20  # out of order, repeated, negative
        value = [math.nan, math.inf, -math.inf][i % 3] if i % 10 == 0 else i / 3
        logged[key].append((step, value, STAMP + i % 17))
        metrics.append(Metric(key, value, STAMP + i % 17, step))
    logged["loss"].append((big, 2.5, STAMP))
    metrics.append(Metric("loss", 2.5, STAMP, big))
    client.log_batch(
        run,
        metrics=metrics,
        params=[Param("lr", "0.1"), Param("lr", "0.1"), Param("layers", "4")],
        tags=[RunTag("phase", "warmup")],
    )
    for key, points in logged.items():
        expected = sorted(points, key=lambda p: p[0])
        history = client.get_metric_history(run, key)
        assert _same_points([(m.step, m.value, m.timestamp) for m in history], expected), key
        assert _same_points(_history(logging, run, key), expected), key
    data = client.get_run(run).data
    assert data.params == {"lr": "0.1", "layers": "4"}
    assert data.tags["phase"] == "warmup"
    assert data.metrics["loss"] == 2.5

    # The forms proto3 JSON allows: int64 as a string or an integral number, doubles as
    # integers or the strings of NaN and the infinities; a missing step is step 0.
    given = [
        {"key": "raw", "value": "NaN", "timestamp": str(STAMP + 1), "step": "12"},
        {"key": "raw", "value": 3, "timestamp": float(STAMP + 2), "step": 11.0},
        {"key": "raw", "value": "-Infinity", "timestamp": STAMP + 3},
        {"key": "raw", "value": "2.5", "timestamp": STAMP + 4, "step": -4},
        {"key": "raw", "value": 1e308, "timestamp": STAMP + 5, "step": None},
    ]
    answer = httpx.post(
        f"{logging.api}/runs/log-batch",
        json={"run_id": run, "metrics": given},
        headers=logging.headers,
    )
    assert (answer.status_code, answer.json()) == (200, {})
    # A byte-order mark before the JSON, as Python's JSON parser has always taken it.
    marked = httpx.post(
        f"{logging.api}/runs/log-batch",
        content=b"\xef\xbb\xbf" + json.dumps({"run_id": run, "metrics": [given[1]]}).encode(),
        headers={**logging.headers, "content-type": "application/json"},
    )
    assert (marked.status_code, marked.json()) == (200, {})
    assert _same_points(
        _history(logging, run, "raw"),
        [
            (-4, 2.5, STAMP + 4),
            (0, -math.inf, STAMP + 3),
            (0, 1e308, STAMP + 5),
            (11, 3.0, STAMP + 2),
            (11, 3.0, STAMP + 2),
            (12, math.nan, STAMP + 1),
        ],
    )


def test_a_refused_batch_says_what_is_wrong_and_stores_nothing(logging: Logging) -> None:
    """The first problem in MLflow's order (the run, the items' shapes, the limits, the
    params, each metric's fields in turn, the metric keys, the tags) is the answer, and
    none of the batch is stored."""
    run = _run(logging)
    ok = {"key": "m", "value": 0.5, "timestamp": STAMP, "step": 1}
    long_key = "k" * 251
    huge = 10**400
    cases: list[tuple[Any, int, str]] = [
        ({"run_id": "0" * 32, "metrics": [ok]}, 404, f"Run '{'0' * 32}' not found"),
        (
            {"run_id": 7, "metrics": [ok]},
            400,
            "Invalid value 7 for parameter 'run_id': must be a string",
        ),
        (
            {"run_id": run, "metrics": "many"},
            400,
            "Invalid value 'many' for parameter 'metrics': must be a list",
        ),
        (
            {"run_id": run, "metrics": [ok, 5]},
            400,
            "Invalid value 5 in 'metrics': must be an object",
        ),
        (
            {"run_id": run, "metrics": [ok] * 1001},
            400,
            "A batch logging request can contain at most 1000 metrics. Got 1001 metrics.",
        ),
        (
            {
                "run_id": run,
                "metrics": [ok],
                "params": [{"key": "p", "value": "1"}, {"key": "p", "value": "2"}],
            },
            400,
            "Duplicate parameter keys have been submitted: 'p'",
        ),
        (
            {
                "run_id": run,
                "metrics": [{**ok, "value": "high"}],
                "params": [{"key": "p", "value": "v" * 6001}],
            },
            400,
            "param 'p': a value is at most 6000 characters",
        ),
        (
            {"run_id": run, "metrics": [ok, {**ok, "key": ""}]},
            400,
            "Missing value for required parameter 'key'",
        ),
        (
            {"run_id": run, "metrics": [ok, {**ok, "key": 7}]},
            400,
            "Invalid value 7 for parameter 'key': must be a string",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "key": long_key}, {**ok, "value": "high"}]},
            400,
            "Invalid value 'high' for parameter 'value': must be a number",
        ),
        (
            {"run_id": run, "metrics": [ok, {**ok, "key": long_key}]},
            400,
            f"a metric key must be 1 to 250 characters, got {long_key!r}",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "value": True}]},
            400,
            "Invalid value True for parameter 'value': must be a number",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "value": None}]},
            400,
            "Missing value for required parameter 'value'",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "value": huge}]},
            400,
            f"Invalid value {huge!r} for parameter 'value': out of a double's range",
        ),
        (
            {"run_id": run, "metrics": [{k: v for k, v in ok.items() if k != "timestamp"}]},
            400,
            "Missing value for required parameter 'timestamp'",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "timestamp": "x"}]},
            400,
            "Invalid value 'x' for parameter 'timestamp': must be an int64",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "step": 1.5}]},
            400,
            "Invalid value 1.5 for parameter 'step': must be an int64",
        ),
        (
            {"run_id": run, "metrics": [{**ok, "step": 2**63}]},
            400,
            f"Invalid value {2**63} for parameter 'step': must be an int64",
        ),
        (
            {"run_id": run, "metrics": [ok, {**ok, "timestamp": 10**15}]},
            400,
            "series 'm'/'m': timestamps must be finite seconds since the epoch between 1970 "
            "and the end of year 9999",
        ),
        (
            {"run_id": run, "metrics": [ok], "tags": [{"key": "", "value": "x"}]},
            400,
            "Missing value for required parameter 'key'",
        ),
        ([1, 2], 400, "body: Input should be a valid dictionary"),
    ]
    for body, status, message in cases:
        refused = httpx.post(f"{logging.api}/runs/log-batch", json=body, headers=logging.headers)
        assert refused.status_code == status, (body, refused.text)
        code = "RESOURCE_DOES_NOT_EXIST" if status == 404 else "INVALID_PARAMETER_VALUE"
        assert refused.json() == {"error_code": code, "message": message}
    broken = httpx.post(
        f"{logging.api}/runs/log-batch",
        content=b'{"run_id": "' + run.encode() + b'", "metrics": [',
        headers={**logging.headers, "content-type": "application/json"},
    )
    assert broken.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "the request body is not valid JSON",
    }
    assert _history(logging, run, "m") == []
    assert logging.client.get_run(run).data.params == {}

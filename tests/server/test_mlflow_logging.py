"""A training loop's calls through MLflow's client into ``/mlflow``: metrics one at a time,
queued (``synchronous=False``) and in batches, and a metric's history read back in pages,
every point in step order with its value and timestamp, on a real server asking for login."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

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

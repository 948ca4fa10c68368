"""The plot routes on a real server process: store, read back, filters, dedupe, refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.test_scalars_api import UNKNOWN, assert_error, create_task
from tests.store.test_plots import PLOTS, plot
from tunelab.domain.plots import MAX_PLOT_BYTES


def send(client: httpx.Client, task: str, *plots: dict[str, Any], **extra: Any) -> httpx.Response:
    return client.post(f"/tasks/{task}/plots", json={"plots": list(plots), **extra})


def read(client: httpx.Client, task: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/tasks/{task}/plots", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["plots"]
    return found


def test_each_kind_reads_back(client: httpx.Client) -> None:
    task = create_task(client)
    answer = send(client, task, *(plot(kind, title=kind, iteration=2) for kind in PLOTS))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": len(PLOTS), "duplicate": False}
    found = {p["title"]: p for p in read(client, task)}
    for kind, data in PLOTS.items():
        assert {k: found[kind][k] for k in ("series", "iteration", "kind", "data")} == {
            "series": "s",
            "iteration": 2,
            "kind": kind,
            "data": data,
        }


def test_filters_and_last_only(client: httpx.Client) -> None:
    task = create_task(client)
    send(client, task, *(plot("table", title="t", iteration=i) for i in (3, 1, 2)))
    send(client, task, plot("table", title="u", series="a"), plot("table", title="u", series="b"))
    keys = [(p["title"], p["series"], p["iteration"]) for p in read(client, task, last_only=True)]
    assert keys == [("t", "s", 3), ("u", "a", 0), ("u", "b", 0)]
    assert [p["iteration"] for p in read(client, task, title="t")] == [1, 2, 3]
    assert [p["series"] for p in read(client, task, title="u", series="b")] == ["b"]
    assert [p["iteration"] for p in read(client, task, title="t", iteration=2)] == [2]
    assert read(client, task, title="nothing") == []


def test_a_resent_batch_is_not_doubled(client: httpx.Client) -> None:
    task = create_task(client)
    assert send(client, task, plot("table"), batch_id="b-1").json()["duplicate"] is False
    again = send(client, task, plot("table", rows=[]), batch_id="b-1")
    assert again.json() == {"stored": 0, "duplicate": True}
    assert read(client, task)[0]["data"]["rows"] == PLOTS["table"]["rows"]


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"plots": [plot("histogram", values=[[1, "x", 3]])]}, 400, "invalid_input", "not a"),
        ({"plots": [plot("scatter2d", x=[1])]}, 400, "invalid_input", "same number"),
        ({"plots": [plot("confusion_matrix", matrix=[[1], [2, 3]])]}, 400, "invalid_input", ""),
        ({"plots": [plot("image", mime="image/gif")]}, 400, "invalid_input", "mime"),
        ({"plots": [plot("pie")]}, 400, "invalid_input", "kind must be one of"),
        ({"plots": [{**plot("table"), "iteration": 1.5}]}, 400, "invalid_input", "iteration"),
        ({"plots": [{**plot("table"), "extra": 1}]}, 400, "invalid_input", "extra"),
        ({"plots": []}, 400, "invalid_input", "plots"),
        (
            {"plots": [plot("table", rows=[["x" * 1000, 1]] * (MAX_PLOT_BYTES // 1000))]},
            413,
            "payload_too_large",
            "limit",
        ),
    ],
)
def test_bad_input_is_refused_with_the_envelope_and_nothing_is_stored(
    client: httpx.Client, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    task = create_task(client)
    # A good plot beside the bad one: the whole batch is refused.
    body = {"plots": [plot("table", title="good"), *body["plots"]]} if body["plots"] else body
    error = assert_error(client.post(f"/tasks/{task}/plots", json=body), status, code)
    assert message in error["message"]
    assert read(client, task) == []


def test_unknown_task_is_404(client: httpx.Client) -> None:
    assert_error(send(client, UNKNOWN, plot("table")), 404, "not_found")
    assert_error(client.get(f"/tasks/{UNKNOWN}/plots"), 404, "not_found")

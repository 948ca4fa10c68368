"""Filters, cursor pages and saved views through the API, on a real server over SQLite and
PostgreSQL."""

from __future__ import annotations

import array
import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.answers import ok
from tests.services import api_without_tracebacks

PROJECT = "board"


@pytest.fixture(scope="module")
def http(
    tmp_path_factory: pytest.TempPathFactory, server_database: str | None
) -> Iterator[httpx.Client]:
    with api_without_tracebacks(tmp_path_factory.mktemp("board"), server_database) as client:
        yield client


def batch(values: list[float]) -> dict[str, Any]:
    def packed(kind: str, items: list[float]) -> str:
        return base64.b64encode(array.array(kind, items).tobytes()).decode()

    series = {
        "metric": "accuracy",
        "variant": "val",
        "iterations": packed("q", list(range(len(values)))),
        "values": packed("d", values),
        "timestamps": packed("d", [1.0 + i for i in range(len(values))]),
    }
    return {"batch_id": "b1", "series": [series]}


@pytest.fixture(scope="module")
def board(http: httpx.Client) -> dict[str, str]:
    """Seven runs with a final val accuracy of 0.60..0.90 and an optimizer; one without."""
    ids: dict[str, str] = {}
    for i in range(7):
        hp = {"Args": {"optimizer": {"value": "adam" if i % 2 else "sgd"}, "lr": {"value": 0.1}}}
        body = {"name": f"run{i}", "project": PROJECT, "hyperparameters": hp}
        task = ok(http.post("/tasks", json=body), 201)
        ok(http.post(f"/tasks/{task['id']}/scalars", json=batch([0.1, 0.6 + i * 0.05])))
        ids[f"run{i}"] = task["id"]
    ids["bare"] = ok(http.post("/tasks", json={"name": "bare", "project": PROJECT}), 201)["id"]
    return ids


def names(answer: dict[str, Any]) -> list[str]:
    return [t["name"] for t in answer["items"]]


def test_filters_narrow_the_listing(http: httpx.Client, board: dict[str, str]) -> None:
    query = {
        "project": PROJECT,
        "order_by": "-metrics.accuracy/val.last",
        "filter": ["metrics.accuracy/val.last > 0.74", "hyperparameters.Args/optimizer = adam"],
    }
    answer = ok(http.get("/tasks", params=query))
    assert names(answer) == ["run5", "run3"]
    assert answer["total"] == 2
    unset = ok(
        http.get(
            "/tasks", params={"project": PROJECT, "filter": "metrics.accuracy/val.last is not set"}
        )
    )
    assert names(unset) == ["bare"]


def test_cursor_pages_walk_the_whole_sort(http: httpx.Client, board: dict[str, str]) -> None:
    query: dict[str, Any] = {
        "project": PROJECT,
        "order_by": "-metrics.accuracy/val.last",
        "page_size": 3,
    }
    seen: list[str] = []
    answer = ok(http.get("/tasks", params=query))
    while True:
        seen += names(answer)
        if answer["next"] is None:
            break
        answer = ok(http.get("/tasks", params={**query, "after": answer["next"]}))
    assert seen == [f"run{i}" for i in range(6, -1, -1)] + ["bare"]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "metrics.accuracy/val.last > high"},
        {"filter": "accuracy > 1"},
        {"after": "garbage!"},
        {"after": "WyJuYW1lIiwgMCwgIngiLCAiaWQiXQ"},  # another sort's
    ],
)
def test_bad_filters_and_cursors_are_400s(http: httpx.Client, params: dict[str, str]) -> None:
    answer = http.get("/tasks", params={"project": PROJECT, **params})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"


def test_saved_views_round_trip(http: httpx.Client, board: dict[str, str]) -> None:
    project = ok(http.post("/projects", json={"name": PROJECT}))["id"]
    layout = {
        "cols": ["metrics.accuracy/val.last", "hyperparameters.Args/optimizer"],
        "sort": "-metrics.accuracy/val.last",
        "filters": ["metrics.accuracy/val.last>0.8"],
    }
    made = ok(http.post(f"/projects/{project}/views", json={"name": "best", "layout": layout}), 201)
    # Filters are stored as the listing reads them back.
    assert made["layout"]["filters"] == ["metrics.accuracy/val.last > 0.8"]
    assert made["layout"]["cols"] == layout["cols"] and made["name"] == "best"
    assert ok(http.get(f"/projects/{project}/views"))["items"] == [made]
    assert ok(http.get(f"/projects/{project}/views/{made['id']}")) == made
    taken = http.post(f"/projects/{project}/views", json={"name": "best", "layout": {}})
    assert taken.status_code == 409, taken.text
    renamed = ok(http.patch(f"/projects/{project}/views/{made['id']}", json={"name": "top"}))
    assert renamed["name"] == "top" and renamed["layout"] == made["layout"]
    # What the view holds lists the tasks it shows.
    shown = ok(
        http.get(
            "/tasks",
            params={
                "project": PROJECT,
                "order_by": renamed["layout"]["sort"],
                "filter": renamed["layout"]["filters"],
            },
        )
    )
    assert names(shown) == ["run6", "run5"]
    deleted = http.delete(f"/projects/{project}/views/{made['id']}")
    assert deleted.status_code == 204
    assert http.get(f"/projects/{project}/views/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    "layout",
    [
        {"cols": ["bogus"]},
        {"sort": "nowhere"},
        {"filters": ["metrics.accuracy/val.last ~ 1"]},
        {"extra": 1},
        {"cols": "metrics.accuracy/val.last"},
    ],
)
def test_bad_layouts_are_refused(http: httpx.Client, layout: dict[str, Any]) -> None:
    project = ok(http.post("/projects", json={"name": PROJECT}))["id"]
    answer = http.post(f"/projects/{project}/views", json={"name": "bad", "layout": layout})
    assert answer.status_code == 400, answer.text

"""GET/PUT /api/v1/projects/{id}/metric-directions on a real server with accounts: a
project's readers see each metric's direction, its editors set it, a sub-project inherits
it, and bad input is a 4xx in the error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.accounts import login_server
from tests.server.answers import ok
from tunelab.domain.access import UserKind

ACCOUNTS = {
    "root": UserKind.ADMIN,
    "olga": UserKind.MEMBER,  # owns "lab"
    "ed": UserKind.MEMBER,  # an editor of "lab"
    "vic": UserKind.MEMBER,  # a viewer of "lab"
    "out": UserKind.MEMBER,  # no role on "lab"
}


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir: Path = tmp_path_factory.mktemp("metric-directions")
    with login_server(data_dir, ACCOUNTS) as (_, opened):
        olga = opened["olga"]
        lab = ok(olga.post("/projects", json={"name": "lab"}), 201)
        ok(olga.put(f"/projects/{lab['id']}/members/ed", json={"role": "editor"}))
        ok(olga.put(f"/projects/{lab['id']}/members/vic", json={"role": "viewer"}))
        task = ok(olga.post("/tasks", json={"name": "t", "project": "lab/sub"}), 201)
        series = {
            "metric": "rmse",
            "variant": "val",
            "iterations": [0],
            "values": [0.5],
            "timestamps": [1.0],
        }
        ok(olga.post(f"/tasks/{task['id']}/scalars", json={"series": [series]}))
        yield {**opened, "lab": lab["id"], "sub": task["project"]["id"]}


def _url(project_id: str) -> str:
    return f"/projects/{project_id}/metric-directions"


def _change(metric: str, variant: str, direction: str | None) -> dict[str, Any]:
    return {"directions": [{"metric": metric, "variant": variant, "direction": direction}]}


def _by_name(answer: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["metric"], i["variant"]): i for i in answer["items"]}


def test_reported_metrics_are_listed_with_the_direction_their_name_says(
    clients: dict[str, Any],
) -> None:
    listed = _by_name(ok(clients["vic"].get(_url(clients["sub"]))))
    assert listed[("rmse", "val")] == {
        "metric": "rmse",
        "variant": "val",
        "direction": "lower",
        "set_in": None,
    }


def test_an_editor_sets_a_direction_and_the_sub_project_inherits_it(
    clients: dict[str, Any],
) -> None:
    lab, sub = clients["lab"], clients["sub"]
    answer = ok(clients["ed"].put(_url(lab), json=_change("rmse", "val", "higher")))
    assert _by_name(answer)[("rmse", "val")]["direction"] == "higher"
    inherited = _by_name(ok(clients["vic"].get(_url(sub))))[("rmse", "val")]
    assert (inherited["direction"], inherited["set_in"]) == ("higher", "lab")
    # A direction may be set before any task reports the metric.
    ok(clients["ed"].put(_url(sub), json=_change("reward", "episode", "lower")))
    assert _by_name(ok(clients["vic"].get(_url(sub))))[("reward", "episode")]["set_in"] == "lab/sub"
    # null takes the setting away: the name decides again.
    ok(clients["ed"].put(_url(lab), json=_change("rmse", "val", None)))
    back = _by_name(ok(clients["vic"].get(_url(sub))))[("rmse", "val")]
    assert (back["direction"], back["set_in"]) == ("lower", None)


def test_a_viewer_and_an_outsider_may_not_set_and_an_outsider_may_not_read(
    clients: dict[str, Any],
) -> None:
    lab = clients["lab"]
    for who in ("vic", "out"):
        refused = clients[who].put(_url(lab), json=_change("rmse", "val", "higher"))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "forbidden"
    hidden = clients["out"].get(_url(lab))
    assert hidden.status_code == 403 and hidden.json()["error"]["code"] == "forbidden"
    assert (
        _by_name(ok(clients["olga"].get(_url(lab)))).get(("rmse", "val"), {}).get("set_in") is None
    )


@pytest.mark.parametrize(
    "body",
    [
        _change("rmse", "val", "down"),
        _change("", "val", "lower"),
        _change("rmse", "v" * 513, "lower"),
        {"directions": [{"metric": "rmse", "variant": "val"}]},
        {"directions": "lower"},
        {"directions": [_change("m", "v", "lower")["directions"][0]] * 501},
    ],
)
def test_bad_changes_are_a_4xx_in_the_envelope(clients: dict[str, Any], body: Any) -> None:
    refused = clients["ed"].put(_url(clients["lab"]), json=body)
    assert refused.status_code in (400, 422), refused.text
    assert refused.json()["error"]["code"] == "invalid_input"


def test_an_unknown_project_is_a_404(clients: dict[str, Any]) -> None:
    missing = clients["olga"].get(_url("0" * 32))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

"""Making a project under one the account may edit gives it no new role: an editor who
creates a sub-project stays an editor there (the project inherits the roles above it); only
a new top-level project is owned by the account that makes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounts import login_server
from tests.server.answers import ok
from tunelab.domain.access import UserKind

ACCOUNTS = {
    "root": UserKind.ADMIN,
    "olga": UserKind.MEMBER,  # owns "lab"
    "ed": UserKind.MEMBER,  # an editor of "lab"
    "vic": UserKind.MEMBER,  # nobody yet
}


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, httpx.Client]]:
    data_dir: Path = tmp_path_factory.mktemp("subproject-roles")
    with login_server(data_dir, ACCOUNTS) as (_, opened):
        lab = ok(opened["olga"].post("/projects", json={"name": "lab"}), 201)
        ok(opened["olga"].put(f"/projects/{lab['id']}/members/ed", json={"role": "editor"}))
        yield opened


def _project_id(client: httpx.Client, name: str) -> str:
    listed = ok(client.get("/projects", params={"page_size": 500}))["items"]
    (found,) = [p["id"] for p in listed if p["name"] == name]
    return str(found)


def _grant(client: httpx.Client, project_id: str, user: str) -> httpx.Response:
    return client.put(f"/projects/{project_id}/members/{user}", json={"role": "viewer"})


def test_editor_making_a_subproject_stays_editor(clients: dict[str, httpx.Client]) -> None:
    ed, olga = clients["ed"], clients["olga"]
    sub = ok(ed.post("/projects", json={"name": "lab/eds-sub"}), 201)
    refused = _grant(ed, sub["id"], "vic")
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    # Still an editor there: may add tasks; the owner above still manages it.
    ok(ed.post("/tasks", json={"name": "t", "project": "lab/eds-sub"}), 201)
    ok(_grant(olga, sub["id"], "vic"))
    roles = {m["name"]: m["role"] for m in ok(olga.get(f"/projects/{sub['id']}/members"))["items"]}
    assert roles["ed"] == "editor"


def test_editor_making_a_task_in_new_subprojects_stays_editor(
    clients: dict[str, httpx.Client],
) -> None:
    ed = clients["ed"]
    ok(ed.post("/tasks", json={"name": "t", "project": "lab/made/by-a-task"}), 201)
    for name in ("lab/made", "lab/made/by-a-task"):
        refused = _grant(ed, _project_id(ed, name), "vic")
        assert refused.status_code == 403, (name, refused.text)


def test_a_new_top_level_project_is_owned_by_its_maker(clients: dict[str, httpx.Client]) -> None:
    ed = clients["ed"]
    own = ok(ed.post("/projects", json={"name": "eds-own/inner"}), 201)
    ok(_grant(ed, own["id"], "vic"))
    ok(_grant(ed, _project_id(ed, "eds-own"), "vic"))

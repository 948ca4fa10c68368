"""Accounts over the API on a server that asks for login: an admin manages users, everyone
their own API keys (shown once, revocable, last use noted), owners their projects' members.
A real server process bound to 127.0.0.1 with TUNELAB_AUTH=on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.accounts import AUTH_ON, make_accounts
from tests.services import ServerProcess
from tunelab.store.engine import sqlite_url

SECRET = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """A server asking for login, with one admin and the admin's key."""
    data_dir = tmp_path_factory.mktemp("accounts-server")
    key = make_accounts(sqlite_url(data_dir), {"root": "admin"}, password=SECRET)["root"].key
    proc = ServerProcess(data_dir, env=AUTH_ON)
    proc.start()
    yield proc, key
    proc.stop()


def _as(server: ServerProcess, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30)


def _member(root: httpx.Client, name: str) -> str:
    """A new member account and a key of its own (made by the admin, as for an agent)."""
    made = root.post("/users", json={"name": name, "password": SECRET})
    assert made.status_code == 201, made.text
    key = root.post("/tokens", json={"name": "test", "user": name})
    assert key.status_code == 201, key.text
    return str(key.json()["token"])


def test_an_admin_creates_and_disables_accounts_and_a_disabled_one_stops_at_once(server) -> None:
    proc, admin_key = server
    with _as(proc, admin_key) as root:
        me = root.get("/users/me").json()
        assert me["user"]["name"] == "root" and me["open_access"] is False
        worker = root.post("/users", json={"name": "gpu-box", "kind": "worker"})
        assert worker.status_code == 201 and worker.json()["has_password"] is False
        dave_key = _member(root, "dave")
        names = {u["name"]: u["kind"] for u in root.get("/users").json()["items"]}
        assert names == {"root": "admin", "gpu-box": "worker", "dave": "member"}
        again = root.post("/users", json={"name": "dave", "password": SECRET})
        assert again.status_code == 409
        short = root.post("/users", json={"name": "erin", "password": "short"})
        assert short.status_code == 400 and "at least 8" in short.json()["error"]["message"]

        with _as(proc, dave_key) as dave:
            assert dave.get("/users/me").json()["user"]["name"] == "dave"
            # A member manages no accounts.
            assert dave.get("/users").status_code == 403
            refused = dave.post("/users", json={"name": "mallory", "password": SECRET})
            assert refused.status_code == 403
            dave_id = dave.get("/users/me").json()["user"]["id"]
            assert dave.patch(f"/users/{dave_id}", json={"disabled": True}).status_code == 403
            off = root.patch(f"/users/{dave_id}", json={"disabled": True})
            assert off.status_code == 200 and off.json()["disabled"] is True
            assert dave.get("/users/me").status_code == 401
        root_id = me["user"]["id"]
        myself = root.patch(f"/users/{root_id}", json={"disabled": True})
        assert myself.status_code == 400 and "own account" in myself.json()["error"]["message"]
        assert root.patch(f"/users/{dave_id}", json={"disabled": False}).status_code == 200
        with _as(proc, dave_key) as dave:
            assert dave.get("/users/me").status_code == 200


def test_a_key_is_shown_once_noted_when_used_and_refused_once_revoked(server) -> None:
    proc, admin_key = server
    with _as(proc, admin_key) as root:
        _member(root, "frank")
        made_by_admin = root.get("/tokens", params={"user": "frank"}).json()["items"]
    assert [k["name"] for k in made_by_admin] == ["test"]
    frank_key = root_key_for(proc, admin_key, "frank")
    with _as(proc, frank_key) as frank:
        created = frank.post("/tokens", json={"name": "laptop"})
        assert created.status_code == 201
        new_key = created.json()["token"]
        assert new_key.startswith("tl_") and created.json()["prefix"] == new_key[:10]
        listed = frank.get("/tokens").json()["items"]
        assert {k["name"] for k in listed} == {"test", "laptop", "second"}
        # The key itself is never in a listing: only its prefix.
        assert new_key not in frank.get("/tokens").text
        laptop = next(k for k in listed if k["name"] == "laptop")
        assert laptop["last_used"] is None
        with _as(proc, new_key) as used:
            assert used.get("/users/me").json()["user"]["name"] == "frank"
        laptop = next(k for k in frank.get("/tokens").json()["items"] if k["name"] == "laptop")
        assert laptop["last_used"] is not None
        # Keys of other accounts are for admins only.
        assert frank.post("/tokens", json={"user": "root"}).status_code == 403
        assert frank.get("/tokens", params={"user": "root"}).status_code == 403
        with _as(proc, admin_key) as root:
            root_keys = root.get("/tokens").json()["items"]
        assert frank.delete(f"/tokens/{root_keys[0]['id']}").status_code == 404
        revoked = frank.delete(f"/tokens/{laptop['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked"] is not None
        with _as(proc, new_key) as gone:
            assert gone.get("/users/me").status_code == 401


def root_key_for(proc: ServerProcess, admin_key: str, name: str) -> str:
    with _as(proc, admin_key) as root:
        made = root.post("/tokens", json={"name": "second", "user": name})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


def test_owners_grant_roles_that_hold_below_and_others_cannot(server) -> None:
    proc, admin_key = server
    with _as(proc, admin_key) as root:
        owner_key, guest_key = _member(root, "olga"), _member(root, "gus")
        root.post("/users", json={"name": "agent-1", "kind": "worker"})
    with _as(proc, owner_key) as olga, _as(proc, guest_key) as gus:
        task = olga.post("/tasks", json={"name": "t", "project": "lab/vision"}).json()
        listed = olga.get("/projects")
        assert listed.status_code == 200, listed.text
        lab = listed.json()["items"]
        lab_id = next(p["id"] for p in lab if p["name"] == "lab")
        vision_id = task["project"]["id"]
        members = olga.get(f"/projects/{lab_id}/members").json()["items"]
        assert [(m["name"], m["role"]) for m in members] == [("olga", "owner")]
        assert gus.get(f"/tasks/{task['id']}").status_code == 403
        assert gus.get(f"/projects/{lab_id}/members").status_code == 403

        granted = olga.put(f"/projects/{lab_id}/members/gus", json={"role": "viewer"})
        assert granted.status_code == 200, granted.text
        # The role on "lab" holds for "lab/vision": gus reads, and cannot write.
        assert gus.get(f"/tasks/{task['id']}").status_code == 200
        below = gus.get(f"/projects/{vision_id}/members").json()["items"]
        assert {m["name"]: m["granted_on"] for m in below} == {"olga": "lab", "gus": "lab"}
        assert gus.patch(f"/tasks/{task['id']}", json={"comment": "x"}).status_code == 403
        # A viewer (or editor) manages no members.
        assert gus.put(f"/projects/{lab_id}/members/gus", json={"role": "owner"}).status_code == 403

        assert olga.put(f"/projects/{lab_id}/members/gus", json={"role": "editor"}).is_success
        assert gus.patch(f"/tasks/{task['id']}", json={"comment": "x"}).status_code == 200
        assert gus.put(f"/projects/{lab_id}/members/gus", json={"role": "owner"}).status_code == 403

        unknown = olga.put(f"/projects/{lab_id}/members/nobody", json={"role": "viewer"})
        assert unknown.status_code == 404
        worker = olga.put(f"/projects/{lab_id}/members/agent-1", json={"role": "viewer"})
        assert worker.status_code == 400 and "worker" in worker.json()["error"]["message"]
        bad = olga.put(f"/projects/{lab_id}/members/gus", json={"role": "god"})
        assert bad.status_code == 400

        left = olga.delete(f"/projects/{lab_id}/members/gus")
        assert [m["name"] for m in left.json()["items"]] == ["olga"]
        assert gus.get(f"/tasks/{task['id']}").status_code == 403
        assert [t["id"] for t in gus.get("/tasks").json()["items"]] == []


def test_without_login_the_account_routes_need_a_named_user_for_a_key(tmp_path) -> None:
    """The embedded default (no login): anyone local may manage accounts, as with the CLI;
    a key must say whose it is."""
    proc = ServerProcess(tmp_path / "open")
    proc.start()
    try:
        with _as(proc, None) as anyone:
            assert anyone.get("/users/me").json() == {"user": None, "open_access": True}
            nameless = anyone.post("/tokens", json={"name": "x"})
            assert nameless.status_code == 400
            assert "user" in nameless.json()["error"]["message"]
            assert (
                anyone.post("/users", json={"name": "ivy", "password": SECRET}).status_code == 201
            )
            made = anyone.post("/tokens", json={"name": "x", "user": "ivy"})
            assert made.status_code == 201
            assert [k["user"] for k in anyone.get("/tokens").json()["items"]] == ["ivy"]
    finally:
        proc.stop()

"""Login and API keys on a server that asks for them: who may do what, and what a refusal
says. A real server process bound to 127.0.0.1 with TUNELAB_AUTH=on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.accounts import AUTH_ON, make_accounts
from tests.services import ServerProcess
from tunelab.errors import Forbidden, Unauthorized
from tunelab.sdk.transport import ApiClient
from tunelab.store.engine import sqlite_url

SECRET = "correct horse battery"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict]]:
    """A server asking for login, with an admin, two members, a worker account, and a key
    for each."""
    data_dir = tmp_path_factory.mktemp("auth-server")
    # Made in the store directly (the CLI's own test makes one the CLI way).
    kinds = {"root": "admin", "alice": "member", "bob": "member", "agent": "worker"}
    made = make_accounts(sqlite_url(data_dir), kinds, password=SECRET)
    keys = {name: account.key for name, account in made.items()}
    proc = ServerProcess(data_dir, env=AUTH_ON)
    proc.start()
    yield proc, keys
    proc.stop()


def _as(server: ServerProcess, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30)


def test_without_credentials_the_api_answers_401_and_pages_go_to_login(guarded) -> None:
    server, _ = guarded
    with _as(server, None) as anonymous:
        answer = anonymous.get("/tasks")
        assert answer.status_code == 401
        assert "TUNELAB_API_TOKEN" in answer.json()["error"]["message"]
        assert anonymous.get("/health").status_code == 200
    page = httpx.get(f"{server.url}/experiments?status=running", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fexperiments%3Fstatus%3Drunning"


def test_a_member_sees_only_the_projects_they_have_a_role_on(guarded) -> None:
    server, keys = guarded
    with _as(server, keys["alice"]) as alice, _as(server, keys["bob"]) as bob:
        mine = alice.post("/tasks", json={"name": "a", "project": "alice-proj"})
        assert mine.status_code == 201, mine.text
        theirs = bob.post("/tasks", json={"name": "b", "project": "bob-proj"})
        assert theirs.status_code == 201, theirs.text
        # The creator owns the new project; the other member can neither read nor write it.
        assert alice.get(f"/tasks/{mine.json()['id']}").status_code == 200
        refused = bob.get(f"/tasks/{mine.json()['id']}")
        assert refused.status_code == 403
        assert "alice-proj" in refused.json()["error"]["message"]
        assert '"a"' not in refused.text
        assert bob.patch(f"/tasks/{mine.json()['id']}", json={"comment": "x"}).status_code == 403
        listed = {t["project"]["name"] for t in bob.get("/tasks").json()["items"]}
        assert listed == {"bob-proj"}


def test_a_wrong_or_revoked_key_is_refused(guarded) -> None:
    server, _ = guarded
    with _as(server, "tl_not-a-key") as stranger:
        assert stranger.get("/tasks").status_code == 401


def test_a_change_records_who_made_it(guarded) -> None:
    server, keys = guarded
    with _as(server, keys["alice"]) as alice:
        task = alice.post("/tasks", json={"name": "who", "project": "alice-proj"}).json()
        assert alice.patch(f"/tasks/{task['id']}", json={"comment": "mine"}).status_code == 200
        assert alice.get(f"/tasks/{task['id']}").json()["last_changed_by"] == "alice"


def test_a_worker_account_writes_only_the_tasks_it_runs(guarded) -> None:
    server, keys = guarded
    with _as(server, keys["root"]) as root, _as(server, keys["agent"]) as agent:
        task = root.post("/tasks", json={"name": "w", "project": "ops"}).json()
        assert agent.get(f"/tasks/{task['id']}").status_code == 200
        refused = agent.patch(f"/tasks/{task['id']}", json={"comment": "x"})
        assert refused.status_code == 403
        assert agent.post("/tasks", json={"name": "n", "project": "ops"}).status_code == 403
        assert root.post(f"/tasks/{task['id']}/enqueue", json={"queue": "q-w"}).status_code == 200
        assert agent.post("/workers", json={"id": "w1", "queues": ["q-w"]}).status_code == 200
        taken = agent.post("/workers/w1/next", json={"timeout": 0})
        assert taken.status_code == 200 and taken.json()["task"]["id"] == task["id"]
        assert agent.patch(f"/tasks/{task['id']}", json={"comment": "ran"}).status_code == 200


def test_only_an_admin_has_the_server_delete_files_on_its_own_disk(guarded, tmp_path) -> None:
    server, keys = guarded
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    record = {"type": "file", "format": "txt", "uri": precious.as_uri(), "size": 7,
              "sha256": "ab" * 32}  # fmt: skip
    with _as(server, keys["alice"]) as alice:
        task = alice.post("/tasks", json={"name": "f", "project": "alice-proj"}).json()
        alice.patch(f"/tasks/{task['id']}", json={"status": "running"})
        stored = alice.put(f"/tasks/{task['id']}/artifacts/data", json=record)
        assert stored.status_code == 200, stored.text
        alice.patch(f"/tasks/{task['id']}", json={"status": "completed"})
        reset = alice.post(f"/tasks/{task['id']}/reset", json={"delete_artifacts": True})
    assert reset.status_code == 200, reset.text
    assert reset.json()["deleted_files"] == []
    assert [f["uri"] for f in reset.json()["failed_files"]] == [precious.as_uri()]
    assert "only an admin" in reset.json()["failed_files"][0]["error"]
    assert precious.read_text() == "keep me"


def _login_form(web: httpx.Client, name: str, password: str) -> httpx.Response:
    web.get("/login")
    form = {"name": name, "password": password, "next": "/experiments",
            "csrf_token": web.cookies["tunelab_csrf"]}  # fmt: skip
    return web.post("/login", data=form)


def test_web_login_gives_an_httponly_session_and_page_writes_need_the_csrf_token(
    guarded,
) -> None:
    server, _ = guarded
    with httpx.Client(base_url=server.url, timeout=30) as web:
        answer = _login_form(web, "alice", SECRET)
        assert answer.status_code == 303 and answer.headers["location"] == "/experiments"
        cookie = answer.headers["set-cookie"]
        assert "tunelab_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert web.get("/experiments").status_code == 200
        task = web.post("/api/v1/tasks", json={"name": "c", "project": "alice-proj"},
                        headers={"X-CSRF-Token": web.cookies["tunelab_csrf"]}).json()  # fmt: skip
        # The same write without the token, as another site could make the browser send it.
        forged = web.post(f"/experiments/{task['id']}/archive")
        assert forged.status_code == 403 and "CSRF" in forged.text
        assert web.get(f"/api/v1/tasks/{task['id']}").json()["archived"] is False
        sent = web.post(f"/experiments/{task['id']}/archive",
                        headers={"X-CSRF-Token": web.cookies["tunelab_csrf"]})  # fmt: skip
        assert sent.status_code in (200, 303)
        assert web.get(f"/api/v1/tasks/{task['id']}").json()["archived"] is True


def test_login_attempts_are_rate_limited_per_name(guarded) -> None:
    server, _ = guarded
    with httpx.Client(base_url=server.url, timeout=30) as web:
        for _ in range(5):
            assert _login_form(web, "bob", "wrong password").status_code == 401
        locked = _login_form(web, "bob", SECRET)
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        # Another name from the same address is not locked out.
        assert _login_form(web, "root", SECRET).status_code == 303


def test_the_sdk_raises_forbidden_and_unauthorized_by_name(guarded) -> None:
    """A script sees why it was refused: the SDK rebuilds 401 and 403 as their own errors."""
    server, keys = guarded
    with _as(server, keys["bob"]) as bob:
        theirs = bob.post("/tasks", json={"name": "hidden", "project": "bob-sdk"}).json()
    with (
        ApiClient(server.url, token=keys["alice"]) as alice,
        pytest.raises(Forbidden, match="bob-sdk"),
    ):
        alice.get_task(theirs["id"])
    with (
        ApiClient(server.url, token="tl_not-a-key") as stranger,
        pytest.raises(Unauthorized, match="unknown or revoked"),
    ):
        stranger.get_task(theirs["id"])

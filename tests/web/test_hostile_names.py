"""Names that reach page URLs cannot lead the browser elsewhere, and a user's file never acts
as a page of the server.

A configuration object stored under a name that walks up the URL
(``../../../api/v1/files/<key>``) where ``<key>`` is an uploaded HTML file that, once swapped
into a page, posts the admin's "New account" form. An admin opens it in real Chromium, edits
it and saves: every request the page makes is recorded, and only the object's own URL is
asked for; no account is made. The name is written into the store directly, as a database
from before names were checked would hold it (the API refuses it now).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Request, expect

from tests.accounts import AUTH_ON, make_accounts
from tests.services import ServerProcess
from tests.web.test_account_pages import signed_in
from tunelab.store import auth_tokens, users
from tunelab.store.engine import create_engine, sqlite_url
from tunelab.store.schema import task_configuration

ADMIN, ADMIN_PASSWORD = "root", "root-password-1"
INTRUDER = "mallory"
# Swapped in by htmx, this form posts itself on load with the admin's session and CSRF token.
ATTACK = f"""<form hx-post="/admin/users" hx-trigger="load">
  <input name="name" value="{INTRUDER}"><input name="kind" value="admin">
  <input name="password" value="mallory-password-1"></form>"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("hostile-names-server")
    make_accounts(sqlite_url(data_dir), {ADMIN: "admin"}, password=ADMIN_PASSWORD)
    proc = ServerProcess(data_dir, env=AUTH_ON)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def admin_api(guarded: ServerProcess) -> Iterator[httpx.Client]:
    engine = create_engine(sqlite_url(guarded.data_dir))
    try:
        with engine.begin() as conn:
            admin = users.user_by_name(conn, ADMIN)
            key = auth_tokens.create_token(conn, admin["id"], "setup")[1]
    finally:
        engine.dispose()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{guarded.url}/api/v1", headers=headers, timeout=30) as client:
        yield client


def plant_configuration(server: ServerProcess, task_id: str, name: str, text: str) -> None:
    engine = create_engine(sqlite_url(server.data_dir))
    try:
        with engine.begin() as conn:
            conn.execute(
                task_configuration.insert().values(
                    task_id=task_id, name=name, text=text, type="yaml", description=""
                )
            )
    finally:
        engine.dispose()


def account_names(api: httpx.Client) -> set[str]:
    answer = api.get("/users")
    assert answer.status_code == 200, answer.text
    return {u["name"] for u in answer.json()["items"]}


def test_a_configuration_name_that_walks_up_the_url_is_edited_in_place(
    browser: Browser, guarded: ServerProcess, admin_api: httpx.Client
) -> None:
    stored = admin_api.put("/files/uploads/attack.html", content=ATTACK.encode())
    assert stored.status_code == 201, stored.text
    task = admin_api.post("/tasks", json={"name": "victim", "project": "hostile-names"}).json()
    name = "../../../api/v1/files/uploads/attack.html"
    plant_configuration(guarded, task["id"], name, "depth: 18\n")
    before = account_names(admin_api)
    assert INTRUDER not in before

    with signed_in(browser, guarded, ADMIN, ADMIN_PASSWORD) as tab:
        tab.goto(f"/experiments/{task['id']}/configuration")
        section = tab.get_by_role("region", name=f"Configuration object: {name}")
        expect(section).to_contain_text("depth: 18")
        asked: list[tuple[str, str]] = []

        def record(request: Request) -> None:
            asked.append((request.method, unquote(urlsplit(request.url).path)))

        tab.on("request", record)
        with tab.expect_request_finished() as edit:
            section.get_by_role("button", name="Edit").click()
        own = f"/experiments/{task['id']}/configuration-objects/{name}"
        assert unquote(urlsplit(edit.value.url).path) == own
        box = section.get_by_role("textbox", name=f"Text of {name}")
        box.fill("depth: 50\n")
        with tab.expect_request_finished():
            section.get_by_role("button", name="Save").click()
        expect(section.locator("pre.code-block")).to_have_text("depth: 50")
        tab.remove_listener("request", record)

    assert asked == [("GET", own), ("POST", own)]
    saved = admin_api.get(f"/tasks/{task['id']}").json()["configuration"]
    assert saved[name]["text"] == "depth: 50\n"
    assert account_names(admin_api) == before


def test_htmx_swaps_nothing_that_is_not_a_page_fragment(
    browser: Browser, guarded: ServerProcess, admin_api: httpx.Client
) -> None:
    """Even asked for a user's file directly, htmx refuses to swap it in."""
    stored = admin_api.put("/files/uploads/attack-direct.html", content=ATTACK.encode())
    assert stored.status_code == 201, stored.text
    before = account_names(admin_api)
    with signed_in(browser, guarded, ADMIN, ADMIN_PASSWORD, allowed=("not a page",)) as tab:
        tab.goto("/account")
        asked: list[str] = []
        tab.on("request", lambda request: asked.append(unquote(urlsplit(request.url).path)))
        with tab.expect_request_finished():
            tab.evaluate(
                "htmx.ajax('GET', '/api/v1/files/uploads/attack-direct.html', "
                "{target: '#main', swap: 'innerHTML'})"
            )
        expect(tab.locator("#main h1")).to_have_text("Account")
        assert tab.locator("#main form[hx-post='/admin/users']").count() == 0
    assert asked == ["/api/v1/files/uploads/attack-direct.html"]
    assert account_names(admin_api) == before

"""Accounts in the browser, on a server that asks for login: an admin makes accounts and keys
on the Users page, a member makes and revokes their own keys on their account page, project
owners give roles on a project's Members page, and disabling an account ends its session.

One server for the module, with one admin made in the store; everything else is made
through the pages, and checked over the API with the keys the pages showed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.accounts import AUTH_ON, make_accounts
from tests.services import ServerProcess
from tests.web.conftest import screenshot
from tunelab.store import auth_tokens, users
from tunelab.store.engine import create_engine, sqlite_url

ADMIN, ADMIN_PASSWORD = "root", "root-password-1"
CAROL_PASSWORD = "carol-password-1"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's own server, asking for login, with one admin."""
    data_dir = tmp_path_factory.mktemp("accounts-server")
    make_accounts(sqlite_url(data_dir), {ADMIN: "admin"}, password=ADMIN_PASSWORD)
    proc = ServerProcess(data_dir, env=AUTH_ON)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def root_key(guarded: ServerProcess) -> str:
    """An API key of the admin's, for setting up projects and tasks over the API."""
    engine = create_engine(f"sqlite:///{guarded.data_dir / 'tunelab.db'}")
    try:
        with engine.begin() as conn:
            admin = users.user_by_name(conn, ADMIN)
            return auth_tokens.create_token(conn, admin["id"], "setup")[1]
    finally:
        engine.dispose()


def api(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def me(server: ServerProcess, key: str) -> httpx.Response:
    with api(server, key) as client:
        return client.get("/users/me")


@contextmanager
def signed_in(
    browser: Browser, server: ServerProcess, name: str, password: str, allowed: tuple[str, ...] = ()
) -> Iterator[Page]:
    """A browser of its own (cookies and all), logged in through the login form; it fails the
    test on a console error other than the ``allowed`` patterns. Confirmations are accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
    context.set_default_timeout(15_000)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    tab = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.on("dialog", lambda dialog: dialog.accept())
    try:
        tab.goto("/login")
        tab.get_by_label("Name").fill(name)
        tab.get_by_label("Password").fill(password)
        tab.get_by_role("button", name="Log in").click()
        expect(tab).to_have_url(f"{server.url}/")
        yield tab
    finally:
        context.close()
    unexpected = [e for e in errors if not any(re.search(p, e) for p in allowed)]
    assert not unexpected, f"browser console errors: {unexpected}"


def shown_key(area: Any) -> str:
    """The key a creation answer shows, after checking it says it is shown this once."""
    expect(area.locator(".new-key-warning")).to_contain_text("not shown again")
    key = area.locator("input.new-key-value").input_value()
    assert key.startswith("tl_")
    return str(key)


def make_my_key(tab: Page, name: str) -> str:
    tab.goto("/account")
    tab.get_by_label("Name").fill(name)
    tab.get_by_role("button", name="Create key").click()
    return shown_key(tab.locator("#account-keys"))


def test_accounts_keys_and_project_roles_end_to_end(
    browser: Browser, guarded: ServerProcess, root_key: str
) -> None:
    server = guarded
    with api(server, root_key) as root:
        task = root.post("/tasks", json={"name": "baseline", "project": "lab/vision"}).json()
        sub = root.post("/tasks", json={"name": "deep", "project": "lab/vision/resnet"}).json()
    project_id, sub_id = task["project"]["id"], sub["project"]["id"]
    # The admin's own provoked refusal (disabling themself) logs its 400 in the console.
    refused = (r"status of 400", r"Error Code 400")

    with signed_in(browser, server, ADMIN, ADMIN_PASSWORD, allowed=refused) as admin:
        top = admin.locator("header.topbar")
        expect(top.get_by_role("link", name="Users")).to_be_visible()
        expect(top.get_by_role("link", name=ADMIN)).to_have_attribute("href", "/account")
        expect(top.get_by_role("button", name="Log out")).to_be_visible()
        overflow = top.evaluate("bar => bar.scrollWidth - bar.clientWidth")
        assert overflow <= 0, f"the top bar overflows by {overflow}px at 1280px"

        # The Users page: a member with a password, a worker account without one.
        top.get_by_role("link", name="Users").click()
        expect(admin).to_have_url(f"{server.url}/admin/users")
        create_account(admin, "carol", "member", CAROL_PASSWORD)
        create_account(admin, "gpu-box", "worker", "")
        gpu_row = admin.locator("tr.user-row[data-user-name='gpu-box']")
        expect(gpu_row).to_contain_text("worker")
        expect(gpu_row.locator("td").nth(4)).to_have_text("none")

        # The admin gives the worker account its key: shown once, in the modal.
        admin.get_by_role("button", name="New key for gpu-box").click()
        modal = admin.locator("dialog#modal")
        expect(modal.get_by_role("heading", name="API keys of gpu-box")).to_be_visible()
        modal.get_by_label("Name").fill("agent on gpu-box")
        modal.get_by_role("button", name="Make key").click()
        gpu_key = shown_key(modal)
        modal.get_by_role("button", name="Copy").click()
        expect(admin.locator("#toasts")).to_contain_text("Copied the key.")
        assert admin.evaluate("navigator.clipboard.readText()") == gpu_key
        expect(gpu_row.locator("td").nth(5)).to_have_text("1")  # the table heard of it
        screenshot(admin, "admin-users-new-key")
        answer = me(server, gpu_key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["user"]["name"] == "gpu-box"
        assert answer.json()["user"]["kind"] == "worker"
        admin.reload()
        assert gpu_key not in admin.content()
        admin.get_by_role("button", name="New key for gpu-box").click()
        expect(modal.locator("tr.key-row")).to_have_count(1)
        expect(modal.locator("tr.key-row")).to_contain_text(gpu_key[:10])
        assert gpu_key not in admin.content()
        modal.get_by_role("button", name="Close").click()

        # An admin cannot disable themself: the refusal is a toast.
        admin.get_by_role("button", name=f"Disable {ADMIN}").click()
        expect(admin.locator("#toasts .toast-error")).to_contain_text(
            "cannot disable their own account"
        )
        expect(admin.locator(f"tr.user-row[data-user-name='{ADMIN}']")).to_contain_text("Enabled")

        forbidden = (r"status of 403",)
        with signed_in(browser, server, "carol", CAROL_PASSWORD, allowed=forbidden) as carol:
            carol_keys_and_no_admin(carol, server)

            # Viewer on the project: she reads it, cannot change it.
            admin.goto(f"/projects/{project_id}")
            screenshot(admin, "project-experiments-header")
            admin.get_by_role("link", name="Members").click()
            expect(admin).to_have_url(f"{server.url}/projects/{project_id}/members")
            admin.get_by_label("User").fill("carol")
            admin.get_by_label("Role", exact=True).select_option("viewer")
            admin.get_by_role("button", name="Add").click()
            carol_row = admin.locator("tr.member-row[data-member='carol']")
            expect(carol_row).to_have_attribute("data-role", "viewer")
            expect(carol_row).to_contain_text("this project")
            key = make_my_key(carol, "for the project")
            carol.goto(f"/projects/{project_id}")
            expect(carol.locator("#main")).to_contain_text("baseline")
            carol.goto(f"/projects/{project_id}/members")
            expect(carol.locator("tr.member-row[data-member='carol']")).to_contain_text("Viewer")
            expect(carol.get_by_role("button", name="Add")).to_have_count(0)
            expect(carol.get_by_role("button", name="Remove carol")).to_have_count(0)
            with api(server, key) as as_carol:
                write = as_carol.patch(f"/tasks/{task['id']}", json={"comment": "mine now"})
                assert write.status_code == 403, write.text

                # Editor: the same write succeeds.
                admin.get_by_label("Role of carol").select_option("editor")
                expect(carol_row).to_have_attribute("data-role", "editor")
                write = as_carol.patch(f"/tasks/{task['id']}", json={"comment": "mine now"})
                assert write.status_code == 200, write.text

                # A project under it shows the role as inherited, with no controls for it.
                admin.goto(f"/projects/{sub_id}/members")
                inherited = admin.locator("tr.member-row[data-member='carol']")
                expect(inherited).to_contain_text("inherited from lab/vision")
                expect(inherited.get_by_role("button", name="Remove carol")).to_have_count(0)
                screenshot(admin, "project-members-inherited")

                # Removed: she no longer sees the project.
                admin.goto(f"/projects/{project_id}/members")
                admin.get_by_role("button", name="Remove carol").click()
                expect(admin.locator("tr.member-row[data-member='carol']")).to_have_count(0)
                assert as_carol.get(f"/tasks/{task['id']}").status_code == 403
                gone = carol.goto(f"/projects/{project_id}")
                assert gone is not None and gone.status == 403
                carol.goto("/experiments")
                expect(carol.locator("#main")).not_to_contain_text("baseline")

                # Disabled: her session ends and her keys stop working.
                admin.goto("/admin/users")
                admin.get_by_role("button", name="Disable carol").click()
                expect(admin.locator("tr.user-row[data-user-name='carol']")).to_contain_text(
                    "Disabled"
                )
                screenshot(admin, "admin-users")
                carol.goto("/account")
                expect(carol).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
                assert as_carol.get("/users/me").status_code == 401


def create_account(tab: Page, name: str, kind: str, password: str) -> None:
    form = tab.locator("form.user-create")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Kind").select_option(kind)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create account").click()
    expect(tab.locator(f"tr.user-row[data-user-name='{name}']")).to_contain_text(kind)
    expect(form.get_by_label("Name")).to_have_value("")  # the form is ready for the next one


def carol_keys_and_no_admin(carol: Page, server: ServerProcess) -> None:
    """A member: no Users page; her own keys made, used, and revoked on her account page."""
    top = carol.locator("header.topbar")
    expect(top.get_by_role("link", name="carol")).to_be_visible()
    expect(top.get_by_role("link", name="Users")).to_have_count(0)
    refused = carol.goto("/admin/users")
    assert refused is not None and refused.status == 403
    expect(carol.get_by_role("heading", name="Not allowed")).to_be_visible()

    carol.goto("/")
    top.get_by_role("link", name="carol").click()
    expect(carol).to_have_url(f"{server.url}/account")
    key = make_my_key(carol, "laptop")
    answer = me(server, key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["name"] == "carol"
    screenshot(carol, "account-new-key")

    carol.reload()
    assert key not in carol.content()
    row = carol.locator("tr.key-row[data-key-name='laptop']")
    expect(row.locator(".key-last-used")).to_have_text("just now")
    expect(row.locator(".key-state")).to_have_text("Active")
    row.get_by_role("button", name="Revoke the key laptop").click()
    expect(row.locator(".key-state")).to_contain_text("Revoked")
    expect(carol.locator("#toasts")).to_contain_text("no longer works")
    assert me(server, key).status_code == 401


def test_without_login_the_account_page_says_there_is_no_account(http: httpx.Client) -> None:
    # The session's server: it runs without login.
    page = http.get("/account")
    assert page.status_code == 200
    assert "No one is signed in" in page.text
    assert 'href="/admin/users"' in page.text  # allowed everything, as an admin
    assert "Log out" not in page.text
    made = http.post("/account/tokens", data={"name": "x"}, headers={"HX-Request": "true"})
    assert made.status_code == 400
    assert "keys belong to accounts" in made.text
    assert "tl_" not in made.text

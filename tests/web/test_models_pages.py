"""The Models pages in the browser, on a server that asks for login: the models table lists
what the account may see, filters, sorts, pages and publishes in bulk; a model's Network and
Labels tabs edit its configuration and label enumeration; a published model is read-only;
an experiment's input model links to its page.

One server for the module. An admin's API key sets up three projects: vera is a viewer of
one, an editor of another, and has no role on the third.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.accounts import AUTH_ON, PASSWORD, Account, make_accounts
from tests.services import ServerProcess
from tunelab.store.engine import sqlite_url

SCREENS = Path("/tmp/screens")
SEEN, EDITABLE, HIDDEN = "vision", "speech", "secret"
CONFIG = "layers:\n  - conv: 64\n  - conv: 128\n  - dense: 10\noptimizer: adam\n"


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    data_dir = tmp_path_factory.mktemp("models-server")
    made = make_accounts(sqlite_url(data_dir), {"root": "admin", "vera": "member"})
    proc = ServerProcess(data_dir, env=AUTH_ON)
    proc.start()
    yield proc, made
    proc.stop()


@pytest.fixture(scope="module")
def guarded(accounts: tuple[ServerProcess, dict[str, Account]]) -> ServerProcess:
    return accounts[0]


@pytest.fixture(scope="module")
def root(accounts: tuple[ServerProcess, dict[str, Account]]) -> Iterator[httpx.Client]:
    server, made = accounts
    headers = {"Authorization": f"Bearer {made['root'].key}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def vera_api(accounts: tuple[ServerProcess, dict[str, Account]]) -> Iterator[httpx.Client]:
    server, made = accounts
    headers = {"Authorization": f"Bearer {made['vera'].key}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def world(root: httpx.Client) -> dict[str, dict[str, Any]]:
    """Models by name: seven in the project vera may change, two she may only see, one she
    may not see; vera's roles given over the API."""
    made: dict[str, dict[str, Any]] = {}

    def model(name: str, project: str, **fields: Any) -> None:
        response = root.post("/models", json={"name": name, "project": project, **fields})
        assert response.status_code == 201, response.text
        made[name] = response.json()

    for i in range(7):
        framework = "PyTorch" if i % 2 == 0 else "Keras"
        model(f"speech-{i}", EDITABLE, framework=framework, tags=["asr"] if i < 3 else [])
    model("vision-a", SEEN, framework="PyTorch", config_text=CONFIG, labels={"cat": 0})
    model("vision-b", SEEN, framework="Keras")
    model("secret-model", HIDDEN, framework="PyTorch")
    for project, role in ((SEEN, "viewer"), (EDITABLE, "editor")):
        project_id = made[f"{project}-a" if project == SEEN else "speech-0"]["project"]["id"]
        answer = root.put(f"/projects/{project_id}/members/vera", json={"role": role})
        assert answer.status_code == 200, answer.text
    return made


@contextmanager
def signed_in(
    browser: Browser, server: ServerProcess, allowed: tuple[str, ...] = ()
) -> Iterator[Page]:
    """vera's browser, logged in through the login form; any console error other than the
    ``allowed`` patterns fails the test. Confirmations are accepted."""
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
        tab.get_by_label("Name").fill("vera")
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        expect(tab).to_have_url(f"{server.url}/")
        yield tab
    finally:
        context.close()
    unexpected = [e for e in errors if not any(re.search(p, e) for p in allowed)]
    assert not unexpected, f"browser console errors: {unexpected}"


def shot(tab: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def names_shown(tab: Page) -> list[str]:
    return [
        str(n)
        for n in tab.locator("tr.model-row").evaluate_all(
            "rows => rows.map(r => r.dataset.modelName)"
        )
    ]


def test_the_models_table_lists_visible_models_filters_sorts_pages_and_publishes(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], vera_api: httpx.Client
) -> None:
    with signed_in(browser, guarded) as tab:
        tab.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
        expect(tab).to_have_url(f"{guarded.url}/models")
        expect(tab.locator("tr.model-row")).to_have_count(9)
        shown = names_shown(tab)
        assert "secret-model" not in shown
        assert set(shown) == {f"speech-{i}" for i in range(7)} | {"vision-a", "vision-b"}
        shot(tab, "models-table")

        # Filters: a name search, a framework, a tag; each narrows the rows and the URL.
        tab.get_by_label("Search names").fill("vision")
        expect(tab.locator("tr.model-row")).to_have_count(2)
        expect(tab).to_have_url(re.compile(r"/models\?q=vision$"))
        tab.get_by_label("Framework").fill("Keras")
        tab.get_by_label("Framework").press("Enter")
        expect(tab.locator("tr.model-row")).to_have_count(1)
        assert names_shown(tab) == ["vision-b"]
        tab.get_by_role("link", name="Clear filters").click()
        expect(tab.locator("tr.model-row")).to_have_count(9)
        tab.get_by_label("Filter by tag").fill("asr")
        tab.get_by_label("Filter by tag").press("Enter")
        expect(tab.locator("tr.model-row")).to_have_count(3)
        tab.get_by_role("link", name="Clear filters").click()
        expect(tab).to_have_url(f"{guarded.url}/models")

        # Sort by name, both ways.
        tab.get_by_role("link", name="Name", exact=True).click()
        expect(tab.locator("th[aria-sort='ascending']")).to_contain_text("Name")
        assert names_shown(tab) == sorted(names_shown(tab))
        tab.get_by_role("link", name="Name", exact=True).click()
        expect(tab.locator("th[aria-sort='descending']")).to_contain_text("Name")
        assert names_shown(tab)[0] == "vision-b"

        # Pages of four.
        tab.goto("/models?sort=name&page_size=4")
        assert names_shown(tab) == ["speech-0", "speech-1", "speech-2", "speech-3"]
        expect(tab.locator("nav.pager")).to_contain_text("Page 1 of 3")
        tab.locator("nav.pager a[rel=next]").click()
        expect(tab.locator("nav.pager")).to_contain_text("Page 2 of 3")
        assert names_shown(tab) == ["speech-4", "speech-5", "speech-6", "vision-a"]

        # Bulk publish two models of the project vera may change.
        tab.get_by_label("Select speech-4").check()
        tab.get_by_label("Select speech-5").check()
        tab.locator("#model-bulk-form").get_by_role("button", name="Publish").click()
        expect(tab.locator("#toasts")).to_contain_text("Published 2 of 2 models.")
        row = tab.locator("tr.model-row[data-model-name='speech-4']")
        expect(row.locator(".col-published")).to_contain_text("Published")
        shot(tab, "models-bulk-published")
    for name, published in (("speech-4", True), ("speech-5", True), ("speech-6", False)):
        answer = vera_api.get(f"/models/{world[name]['id']}").json()
        assert answer["published"] is published


def test_bulk_archive_hides_models_until_the_archive_is_shown_and_unarchive_brings_them_back(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], vera_api: httpx.Client
) -> None:
    with signed_in(browser, guarded) as tab:
        tab.goto("/models?q=speech-6")
        tab.get_by_label("Select speech-6").check()
        tab.locator("#model-bulk-form").get_by_role("button", name="Archive").click()
        expect(tab.locator("#toasts")).to_contain_text("Archived 1 of 1 model.")
        expect(tab.locator("tr.model-row")).to_have_count(0)
        tab.get_by_label("Archived").check()
        expect(tab).to_have_url(re.compile(r"archived=true"))
        row = tab.locator("tr.model-row[data-model-name='speech-6']")
        expect(row.locator(".tag-archived")).to_have_text("Archived")
        assert vera_api.get(f"/models/{world['speech-6']['id']}").json()["archived"] is True
        tab.get_by_label("Select speech-6").check()
        tab.locator("#model-bulk-form").get_by_role("button", name="Unarchive").click()
        expect(tab.locator("#toasts")).to_contain_text("Unarchived 1 of 1 model.")
        expect(tab.locator("tr.model-row")).to_have_count(0)
    assert vera_api.get(f"/models/{world['speech-6']['id']}").json()["archived"] is False


def test_bulk_publish_of_a_model_the_account_may_only_see_is_refused(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], vera_api: httpx.Client
) -> None:
    with signed_in(browser, guarded, allowed=(r"403",)) as tab:
        tab.goto("/models?q=vision-b")
        tab.get_by_label("Select vision-b").check()
        tab.locator("#model-bulk-form").get_by_role("button", name="Publish").click()
        expect(tab.locator("#toasts")).to_contain_text("may not change project")
    assert vera_api.get(f"/models/{world['vision-b']['id']}").json()["published"] is False


def test_the_network_tab_saves_searches_copies_and_clears_the_configuration(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], vera_api: httpx.Client
) -> None:
    model_id = world["speech-1"]["id"]
    with signed_in(browser, guarded) as tab:
        tab.goto(f"/models/{model_id}")
        tab.get_by_role("navigation", name="Model").get_by_role("link", name="Network").click()
        expect(tab).to_have_url(f"{guarded.url}/models/{model_id}/network")
        expect(tab.locator(".model-network p.empty")).to_have_text("No configuration.")
        tab.get_by_role("button", name="Edit").click()
        tab.get_by_label("Configuration", exact=True).fill(CONFIG)
        tab.get_by_role("button", name="Save").click()
        expect(tab.locator("#toasts")).to_contain_text("Configuration saved.")
        expect(tab.locator("pre.config-text")).to_have_text(CONFIG)
        assert vera_api.get(f"/models/{model_id}").json()["config_text"] == CONFIG

        tab.get_by_label("Search the configuration").fill("conv")
        expect(tab.locator("pre.config-text mark")).to_have_count(2)
        expect(tab.locator(".config-matches")).to_have_text("2 matches")
        shot(tab, "model-network-search")
        tab.get_by_role("button", name="Copy to clipboard").click()
        expect(tab.locator("#toasts")).to_contain_text("Copied the configuration.")
        assert tab.evaluate("navigator.clipboard.readText()") == CONFIG

        tab.get_by_role("button", name="Clear").click()
        expect(tab.locator("#toasts")).to_contain_text("Configuration cleared.")
        expect(tab.locator(".model-network p.empty")).to_have_text("No configuration.")
    assert vera_api.get(f"/models/{model_id}").json()["config_text"] == ""


def test_the_labels_tab_adds_changes_and_deletes_labels(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], vera_api: httpx.Client
) -> None:
    model_id = world["speech-2"]["id"]
    with signed_in(browser, guarded) as tab:
        tab.goto(f"/models/{model_id}/labels")
        expect(tab.locator(".labels-view p.empty")).to_have_text("No labels.")
        tab.get_by_role("button", name="Edit").click()
        for label, number in (("cat", "0"), ("dog", "1"), ("bird", "2")):
            tab.get_by_role("button", name="Add label").click()
            tab.get_by_label("New label", exact=True).last.fill(label)
            tab.get_by_label("Id of the new label").last.fill(number)
        tab.get_by_role("button", name="Save").click()
        expect(tab.locator("#toasts")).to_contain_text("Labels saved.")
        expect(tab.locator("tr.label-row")).to_have_count(3)
        assert vera_api.get(f"/models/{model_id}").json()["labels"] == {
            "cat": 0,
            "dog": 1,
            "bird": 2,
        }

        # Change dog's number and bird's name, delete cat.
        tab.get_by_role("button", name="Edit").click()
        tab.get_by_label("Id of label 2").fill("5")  # rows by number: cat 0, dog 1, bird 2
        tab.get_by_label("Label 3", exact=True).fill("parrot")
        tab.get_by_role("button", name="Delete label cat").click()
        shot(tab, "model-labels-editing")
        tab.get_by_role("button", name="Save").click()
        expect(tab.locator("#toasts")).to_contain_text("Labels saved.")
        expect(tab.locator("tr.label-row")).to_have_count(2)
    assert vera_api.get(f"/models/{model_id}").json()["labels"] == {"dog": 5, "parrot": 2}


def test_a_published_model_shows_no_edit_controls_and_the_api_refuses_edits(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], vera_api: httpx.Client
) -> None:
    model_id = world["speech-3"]["id"]
    assert vera_api.post(f"/models/{model_id}/publish").status_code == 200
    with signed_in(browser, guarded) as tab:
        for tab_path in ("network", "labels"):
            tab.goto(f"/models/{model_id}/{tab_path}")
            expect(tab.locator(".experiment-title .status-published")).to_have_text("Published")
            expect(tab.locator("#model-tab")).to_contain_text("Published: the")
            expect(tab.get_by_role("button", name="Edit")).to_have_count(0)
            expect(tab.locator("#model-tab form")).to_have_count(0)
        shot(tab, "model-published-labels")
        # A viewer sees the configuration, but no edit controls either.
        tab.goto(f"/models/{world['vision-a']['id']}/network")
        expect(tab.locator("pre.config-text")).to_have_text(CONFIG)
        expect(tab.get_by_role("button", name="Edit")).to_have_count(0)
    refused = vera_api.patch(f"/models/{model_id}", json={"config_text": "x: 1"})
    assert refused.status_code == 409, refused.text
    assert "is published" in refused.json()["error"]["message"]
    refused = vera_api.patch(f"/models/{model_id}", json={"labels": {"a": 1}})
    assert refused.status_code == 409, refused.text


def test_the_page_forms_are_refused_for_a_published_model(
    guarded: ServerProcess, world: dict[str, Any], root: httpx.Client
) -> None:
    """Without the page's controls, a posted form is refused by the store all the same."""
    model_id = world["speech-4"]["id"]  # published in bulk above, or here
    root.post(f"/models/{model_id}/publish")
    with httpx.Client(base_url=guarded.url, timeout=30) as pages:
        pages.get("/login")  # the page's CSRF cookie, sent back as the header
        pages.headers["X-CSRF-Token"] = pages.cookies["tunelab_csrf"]
        pages.headers["Authorization"] = root.headers["Authorization"]
        answer = pages.post(f"/models/{model_id}/labels", data={"label": "x", "value": "1"})
        assert answer.status_code == 409, answer.text
        answer = pages.post(f"/models/{model_id}/network", data={"config_text": "x"})
        assert answer.status_code == 409, answer.text
        bad = pages.post(
            f"/models/{world['speech-6']['id']}/labels", data={"label": "x", "value": "one"}
        )
        assert bad.status_code == 400, bad.text


def test_an_experiments_input_model_link_opens_the_model_page(
    browser: Browser, guarded: ServerProcess, world: dict[str, Any], root: httpx.Client
) -> None:
    task = root.post("/tasks", json={"name": "finetune", "project": EDITABLE}).json()
    model = world["speech-0"]
    answer = root.put(f"/tasks/{task['id']}/input_model", json={"model_id": model["id"]})
    assert answer.status_code == 200, answer.text
    with signed_in(browser, guarded) as tab:
        tab.goto(f"/experiments/{task['id']}/artifacts")
        tab.locator("#input-model").get_by_role("link", name="speech-0").click()
        expect(tab).to_have_url(f"{guarded.url}/models/{model['id']}")
        expect(tab.locator("h1")).to_have_text("speech-0")

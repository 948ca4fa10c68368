"""The frame every page shares: navigation, error pages, the live status badge, assets."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.services import ServerProcess
from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name
from tunelab.server.web.templating import STATIC_DIR


def test_an_unknown_experiment_is_a_page_saying_so_and_the_api_keeps_json(
    http: httpx.Client,
) -> None:
    page = http.get("/experiments/no-such-task")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "no task with id &#39;no-such-task&#39;" in page.text
    api = http.get("/api/v1/tasks/no-such-task")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


def test_an_htmx_request_that_fails_answers_a_toast_for_the_toast_area(http: httpx.Client) -> None:
    answer = http.get("/experiments/no-such-task/status", headers={"HX-Request": "true"})
    assert answer.status_code == 404
    assert answer.headers["HX-Retarget"] == "#toasts"
    assert 'class="toast toast-error"' in answer.text


def test_the_status_badge_follows_a_status_change_without_a_reload(
    page: Page, http: httpx.Client
) -> None:
    task = create_task(http, project_name(), "badge", status="running")
    page.goto(f"/experiments/{task['id']}")
    expect(page).to_have_url(f"/experiments/{task['id']}/execution")
    expect(page.locator("#task-status .status")).to_have_text("Running")
    ended = http.patch(f"/api/v1/tasks/{task['id']}", json={"status": "completed"})
    assert ended.status_code == 200, ended.text
    expect(page.locator("#task-status .status")).to_have_text("Completed", timeout=10_000)
    # A completed task may still be reset or published elsewhere: the badge keeps asking.
    expect(page.locator("#task-status")).to_have_attribute("hx-trigger", "every 2s")
    published = http.post(f"/api/v1/tasks/{task['id']}/publish")
    assert published.status_code == 200, published.text
    expect(page.locator("#task-status .status")).to_have_text("Published", timeout=10_000)
    # Published is read-only for good: the badge no longer asks the server.
    expect(page.locator("#task-status")).not_to_have_attribute("hx-trigger", "every 2s")
    screenshot(page, "experiment-header")


def test_vendored_files_keep_their_licenses_beside_them(http: httpx.Client) -> None:
    for folder, script in (("htmx", "htmx.min.js"), ("uplot", "uPlot.iife.min.js")):
        assert (STATIC_DIR / "vendor" / folder / "LICENSE").is_file()
        assert http.get(f"/static/vendor/{folder}/{script}").status_code == 200


@pytest.mark.parametrize(
    ("width", "height"), [(1280, 800), (1366, 768)], ids=["1280px", "laptop-1366x768"]
)
def test_the_main_pages_fit_the_screen_without_sideways_scrolling(
    browser: Browser, server: ServerProcess, http: httpx.Client, width: int, height: int
) -> None:
    project = project_name("fit")
    task = create_task(
        http,
        project,
        "a run with a fairly long descriptive name for its table row",
        hyperparameters={"Args": {"lr": 0.1, "batch_size": 64, "optimizer": "adam"}},
        tags=["baseline", "resnet50", "imagenet"],
    )
    other = create_task(http, project, "another", hyperparameters={"Args": {"lr": 0.5}})
    pages = [
        "/",
        "/projects",
        f"/projects/{task['project']['id']}",
        f"/experiments/{task['id']}/configuration",
        f"/experiments/{task['id']}/info",
        f"/compare?ids={task['id']},{other['id']}",
        "/queues",
    ]
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=server.url)
    try:
        tab = context.new_page()
        for url in pages:
            tab.goto(url)
            overflow = tab.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at {width}x{height}"
    finally:
        context.close()

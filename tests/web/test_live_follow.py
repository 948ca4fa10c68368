"""Pages follow a task that changes elsewhere (the API, the CLI, another tab): the experiment
page's status and every tab, and the experiments table, without a reload."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.seed import create_task, project_name
from tests.web.test_experiments_table import project_url
from tests.web.test_scalars_tab import post_points

# The status badge polls every 2 s and the table's version every 3 s: a change shows well
# within this, however busy the machine.
FOLLOW_MS = 10_000


def _enqueue(http: httpx.Client, task_id: str) -> None:
    answer = http.post(f"/api/v1/tasks/{task_id}/enqueue", json={"queue": "default"})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("tab", ["scalars", "console", "plots", "info", "execution"])
def test_each_tab_of_a_draft_follows_an_enqueue_from_elsewhere(
    page: Page, http: httpx.Client, tab: str
) -> None:
    task = create_task(http, project_name("follow"), f"draft-{tab}")
    page.goto(f"/experiments/{task['id']}/{tab}")
    badge = page.locator("#task-status .status")
    expect(badge).to_have_text("Draft")
    _enqueue(http, task["id"])
    expect(badge).to_have_text("Queued", timeout=FOLLOW_MS)
    # The header follows too: the actions the menu offers are the queued task's.
    menu = page.locator("button.task-menu-button")
    expect(menu).to_have_attribute("data-actions", re.compile(r"\bdequeue\b"), timeout=FOLLOW_MS)


@pytest.mark.parametrize("tab", ["scalars", "console", "plots"])
def test_enqueue_from_the_menu_of_a_live_tab(page: Page, http: httpx.Client, tab: str) -> None:
    task = create_task(http, project_name("follow"), f"menu-{tab}")
    page.goto(f"/experiments/{task['id']}/{tab}")
    page.get_by_role("button", name="Actions ▾").click()
    page.get_by_role("menuitem", name="Enqueue").click()
    page.locator("dialog#modal").get_by_role("button", name="Enqueue", exact=True).click()
    expect(page.locator("#task-status .status")).to_have_text("Queued", timeout=FOLLOW_MS)
    expect(page.get_by_role("button", name="Actions ▾")).to_have_attribute(
        "data-actions", re.compile(r"\bdequeue\b"), timeout=FOLLOW_MS
    )
    if tab == "scalars":
        # The charts read on now that the task can run.
        expect(page.locator("#scalar-charts")).to_have_attribute("data-live", "true")
    if tab == "console":
        expect(page.locator("#console")).to_have_attribute("data-live", "true")


def test_the_scalars_tab_of_a_draft_shows_the_run_that_starts_elsewhere(
    page: Page, http: httpx.Client
) -> None:
    task = create_task(http, project_name("follow"), "draft-run")
    tid = task["id"]
    page.goto(f"/experiments/{tid}/scalars")
    expect(page.locator(".chart-grid").first).to_contain_text("No scalars reported yet")
    # The run starts elsewhere (a script attached to the draft, as Task.init does).
    started = http.patch(f"/api/v1/tasks/{tid}", json={"status": "running"})
    assert started.status_code == 200, started.text
    post_points(http, tid, "loss", "train", list(range(5)))
    loss = page.locator('.chart-card[data-chart-key="loss"]')
    expect(loss).to_have_attribute("data-points", "5", timeout=FOLLOW_MS)
    expect(page.locator("#task-status .status")).to_have_text("Running")
    expect(page.get_by_text("No scalars reported yet")).to_have_count(0)


def test_the_console_tab_of_a_draft_tails_the_run_that_starts_elsewhere(
    page: Page, http: httpx.Client
) -> None:
    task = create_task(http, project_name("follow"), "draft-console")
    tid = task["id"]
    page.goto(f"/experiments/{tid}/console")
    expect(page.locator(".console-empty")).to_be_visible()
    assert http.patch(f"/api/v1/tasks/{tid}", json={"status": "running"}).status_code == 200
    expect(page.locator("#task-status .status")).to_have_text("Running", timeout=FOLLOW_MS)
    lines = [{"stream": "stdout", "text": "epoch 1 done", "ts": 1_700_000_000.0}]
    wrote = http.post(f"/api/v1/tasks/{tid}/console", json={"lines": lines})
    assert wrote.status_code in (200, 201, 204), wrote.text
    expect(page.locator("#console")).to_contain_text("epoch 1 done", timeout=FOLLOW_MS)


def test_the_plots_tab_shows_plots_reported_while_it_is_open(
    page: Page, http: httpx.Client
) -> None:
    task = create_task(http, project_name("follow"), "plots-live", status="running")
    tid = task["id"]
    page.goto(f"/experiments/{tid}/plots")
    expect(page.locator(".plots-empty")).to_be_visible()
    plot = {"title": "errors", "series": "val", "kind": "histogram", "data": {"values": [[3, 9]]}}
    wrote = http.post(f"/api/v1/tasks/{tid}/plots", json={"plots": [plot]})
    assert wrote.status_code in (200, 201, 204), wrote.text
    expect(page.locator(".plot-group")).to_have_count(1, timeout=FOLLOW_MS)


def test_a_settled_table_follows_an_enqueue_from_the_api(page: Page, http: httpx.Client) -> None:
    project = project_name("follow-table")
    task = create_task(http, project, "waiting")
    create_task(http, project, "done", status="completed")
    page.goto(project_url(http, project))
    status = page.locator(f'tr.task-row[data-task-id="{task["id"]}"] .status')
    expect(status).to_have_text("Draft")
    _enqueue(http, task["id"])
    expect(status).to_have_text("Queued", timeout=FOLLOW_MS)
    # A task created elsewhere appears too.
    create_task(http, project, "newcomer", status="completed")
    expect(page.locator("tr.task-row")).to_have_count(3, timeout=FOLLOW_MS)


def test_the_table_version_is_one_cheap_answer(http: httpx.Client) -> None:
    project = project_name("follow-version")
    task = create_task(http, project, "versioned")
    url = project_url(http, project)
    html = http.get(url).text
    seen = re.search(r'class="exp-version"[^>]*hx-get="([^"]+)"', html)
    assert seen, "the settled table polls its version"
    poll = seen.group(1).replace("&amp;", "&")
    same = http.get(poll, headers={"HX-Request": "true"})
    assert same.status_code == 204
    assert "hx-trigger" not in same.headers
    _enqueue(http, task["id"])
    moved = http.get(poll, headers={"HX-Request": "true"})
    assert moved.status_code == 204
    assert moved.headers["hx-trigger"] == "tasks-changed"

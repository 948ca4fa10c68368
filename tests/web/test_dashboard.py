"""The Dashboard (recent projects and experiments) and the Projects page (nested cards with
counts by status, an "All projects" card)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name


def project_id(http: httpx.Client, name: str) -> str:
    found = http.get("/api/v1/projects").json()["items"]
    return next(p["id"] for p in found if p["name"] == name)


def card(html: str, href: str) -> str:
    """The HTML of the project card linking to ``href``."""
    match = re.search(rf'<a class="project-card" href="{re.escape(href)}">(.*?)</a>', html, re.S)
    assert match, f"no card for {href}"
    return match.group(1)


def test_the_dashboard_shows_recent_projects_and_experiments(http: httpx.Client) -> None:
    project = project_name("dash")
    task = create_task(http, project, "latest-run", status="running")
    page = http.get("/")
    assert page.status_code == 200
    assert 'href="/projects">View all' in page.text
    assert "Recent projects" in page.text and "Recent experiments" in page.text
    # The project just worked on is a card linking to its table; the task links to its page.
    cards = card(page.text, f"/projects/{project_id(http, project)}")
    assert project in cards and "1 Running" in cards
    assert f'href="/experiments/{task["id"]}">latest-run</a>' in page.text


def test_the_projects_page_nests_projects_and_counts_their_subtrees(http: httpx.Client) -> None:
    top = project_name("nest")
    sub = f"{top}/resnet"
    create_task(http, top, "a", status="completed")
    create_task(http, sub, "b", status="completed")
    create_task(http, sub, "c", status="failed")
    page = http.get("/projects")
    assert page.status_code == 200
    top_card = card(page.text, f"/projects/{project_id(http, top)}")
    assert "<strong>3</strong> experiments" in top_card
    assert "2 Completed" in top_card and "1 Failed" in top_card
    sub_card = card(page.text, f"/projects/{project_id(http, sub)}")
    assert "<strong>2</strong> experiments" in sub_card and "resnet" in sub_card
    # The sub-project's card sits in a list right under its parent's card.
    nested = re.search(
        rf'href="/projects/{project_id(http, top)}">.*?</a>\s*<ul class="project-tree">(.*?)</ul>',
        page.text,
        re.S,
    )
    assert nested and f"/projects/{project_id(http, sub)}" in nested.group(1)
    assert "All projects" in card(page.text, "/experiments")


def test_from_the_dashboard_to_a_project_and_an_experiment(page: Page, http: httpx.Client) -> None:
    project = project_name("tour")
    create_task(http, project, "tour-run", status="completed", tags=["best"])
    create_task(http, f"{project}/sub", "tour-sub-run")
    page.goto("/")
    screenshot(page, "dashboard")
    page.get_by_role("link", name=re.compile("View all")).first.click()
    expect(page).to_have_url(re.compile(r"/projects$"))
    screenshot(page, "projects")
    page.locator("a.project-card", has_text=project).first.click()
    expect(page).to_have_url(re.compile(r"/projects/[0-9a-f]+$"))
    expect(page.locator("tr.task-row")).to_have_count(2)
    page.get_by_role("link", name="tour-run").click()
    expect(page).to_have_url(re.compile(r"/experiments/[0-9a-f]+/execution$"))

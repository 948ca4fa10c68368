"""Names, tags and comments in a real browser: rename from the experiment's title, add and
remove tag chips, tag the rows checked in a table, and name a clone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.seed import create_task, project_name
from tests.web.test_experiments_table import project_url

# One copy of each screenshot where a person looks at them.
SCREENS = Path("/tmp/screens")


def _api(http: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/v1/tasks/{task_id}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENS / path.name)


def test_rename_from_the_title(page: Page, http: httpx.Client, tmp_path: Path) -> None:
    task = create_task(http, project_name("names"), "first try", status="completed")
    page.goto(f"/experiments/{task['id']}/scalars")
    page.get_by_role("button", name="Rename").click()
    field = page.get_by_label("Experiment name")
    expect(field).to_have_value("first try")
    field.fill("baseline, lr 0.1")
    field.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("baseline, lr 0.1")
    expect(page.locator(".toast")).to_contain_text("Renamed")
    assert _api(http, task["id"])["name"] == "baseline, lr 0.1"
    _shot(page, tmp_path, "experiment-renamed")


def test_a_published_task_keeps_its_name_but_takes_tags(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name("names"), "final", status="completed")
    assert http.post(f"/api/v1/tasks/{task['id']}/publish").status_code == 200
    page.goto(f"/experiments/{task['id']}/info")
    expect(page.locator("#task-status .status")).to_have_text("Published")
    expect(page.get_by_role("button", name="Rename")).to_have_count(0)
    page.get_by_label("Add a tag").fill("paper")
    page.get_by_label("Add a tag").press("Enter")
    expect(page.locator(".tag-chips")).to_contain_text("paper")
    assert _api(http, task["id"])["tags"] == ["paper"]


def test_tag_chips_add_and_remove(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name("names"), "tagged", tags=["baseline", "old"])
    page.goto(f"/experiments/{task['id']}/execution")
    chips = page.locator(".tag-chips")
    expect(chips.locator(".tag")).to_have_text(["baseline", "old"])
    page.get_by_role("button", name="Remove tag old").click()
    expect(chips.locator(".tag")).to_have_text(["baseline"])
    add = page.get_by_label("Add a tag")
    add.fill("best")
    add.press("Enter")
    expect(chips.locator(".tag")).to_have_text(["baseline", "best"])
    assert _api(http, task["id"])["tags"] == ["baseline", "best"]


def test_bulk_tag_the_checked_rows(page: Page, http: httpx.Client, tmp_path: Path) -> None:
    project = project_name("bulk-tags")
    a = create_task(http, project, "a", status="completed", tags=["keep"])
    b = create_task(http, project, "b", status="running")
    c = create_task(http, project, "c")
    page.goto(project_url(http, project))
    for task in (a, b):
        page.locator(f'tr.task-row[data-task-id="{task["id"]}"] input.row-select').check()
    page.get_by_label("Tag for the selected experiments").fill("sweep-1")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator(".toast")).to_contain_text("Tagged 2 of 2 experiments with sweep-1")
    row = page.locator(f'tr.task-row[data-task-id="{b["id"]}"]')
    expect(row.locator(".tag")).to_have_text(["sweep-1"])
    assert _api(http, a["id"])["tags"] == ["keep", "sweep-1"]
    assert _api(http, c["id"])["tags"] == []
    _shot(page, tmp_path, "table-bulk-tagged")
    page.get_by_label("Tag for the selected experiments").fill("keep")
    page.get_by_role("button", name="Remove tag").click()
    expect(page.locator(".toast").last).to_contain_text("Untagged 2 of 2 experiments")
    expect(page.locator(f'tr.task-row[data-task-id="{a["id"]}"] .tag')).to_have_text(["sweep-1"])
    assert _api(http, a["id"])["tags"] == ["sweep-1"]


def test_clone_with_a_name(page: Page, http: httpx.Client) -> None:
    source = create_task(http, project_name("names"), "seed run", status="completed")
    page.goto(f"/experiments/{source['id']}/execution")
    page.get_by_role("button", name="Actions ▾").click()
    page.get_by_role("menuitem", name="Clone").click()
    dialog = page.locator("dialog#modal")
    name = dialog.get_by_label("Name")
    expect(name).to_have_value("Clone Of seed run")
    name.fill("seed run, lr 0.01")
    dialog.get_by_role("button", name="Clone", exact=True).click()
    expect(page).to_have_url(re.compile(r"/experiments/[0-9a-f]+/execution$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("seed run, lr 0.01")
    draft = _api(http, page.url.rsplit("/", 2)[-2])
    assert (draft["name"], draft["status"]) == ("seed run, lr 0.01", "draft")

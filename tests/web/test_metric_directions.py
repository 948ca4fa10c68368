"""Each metric's direction on the pages: Compare marks the best value by it, the experiments
table sorts a metric column best first by it, and its column menu (or Compare's) sets it for
the project, on a real server and in a real browser."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name, report_scalars


@pytest.fixture
def pair(http: httpx.Client) -> list[dict[str, Any]]:
    """Two experiments of one project: "good" has the lower rmse, "bad" the higher."""
    project = project_name("directions")
    tasks = []
    for name, values in (("good", [0.9, 0.3, 0.2]), ("bad", [1.0, 0.8, 0.7])):
        task = create_task(http, project, f"{name}-{project}", status="completed")
        report_scalars(http, task["id"], "rmse", "val", values)
        tasks.append(task)
    return tasks


def _best_last(html: str, metric: str) -> list[bool]:
    """Per experiment, whether its last value of ``metric`` is marked best."""
    row = re.search(rf'<tr data-metric="{re.escape(metric)}">.*?</tr>', html, re.S)
    assert row, f"no metric row {metric!r}"
    cells = re.findall(r'<td class="num([^"]*)"', row.group(0))
    return [("best" in c) for c in cells[0::3]]


def _compare(http: httpx.Client, tasks: list[dict[str, Any]]) -> str:
    answer = http.get("/compare?ids=" + ",".join(t["id"] for t in tasks))
    assert answer.status_code == 200, answer.text
    return answer.text


def test_compare_marks_the_lower_rmse_best(http: httpx.Client, pair: list[dict[str, Any]]) -> None:
    html = _compare(http, pair)
    assert _best_last(html, "rmse/val") == [True, False]


def test_a_direction_set_for_the_project_decides_compare_and_the_table_sort(
    http: httpx.Client, pair: list[dict[str, Any]]
) -> None:
    project_id = pair[0]["project"]["id"]
    url = f"/api/v1/projects/{project_id}/metric-directions"
    put = http.put(
        url, json={"directions": [{"metric": "rmse", "variant": "val", "direction": "higher"}]}
    )
    assert put.status_code == 200, put.text
    assert _best_last(_compare(http, pair), "rmse/val") == [False, True]
    # The table's first click on the column sorts best first: now the highest.
    table = http.get(f"/projects/{project_id}?cols=metrics.rmse/val.last")
    assert 'href="/projects/' in table.text
    assert re.search(r'class="sort" href="[^"]*sort=-metrics\.rmse/val\.last', table.text)
    # Back to the default by name: lower is better again.
    back = http.put(
        url, json={"directions": [{"metric": "rmse", "variant": "val", "direction": None}]}
    )
    assert back.status_code == 200, back.text
    assert _best_last(_compare(http, pair), "rmse/val") == [True, False]
    table = http.get(f"/projects/{project_id}?cols=metrics.rmse/val.last")
    assert re.search(r'class="sort" href="[^"]*sort=metrics\.rmse/val\.last', table.text)


def test_the_column_menu_sets_a_direction_and_compare_marks_by_it(
    page: Page, pair: list[dict[str, Any]]
) -> None:
    project_id = pair[0]["project"]["id"]
    page.goto(f"/projects/{project_id}?cols=metrics.rmse/val.last")
    header = page.locator('th.extra-col[data-col="metrics.rmse/val.last"]')
    menu = header.locator("details.col-direction")
    expect(menu.locator("summary")).to_have_text("↓")
    menu.locator("summary").click()
    screenshot(page, "table-direction-menu")
    menu.get_by_role("button", name="Higher is better").click()
    expect(header.locator("details.col-direction summary")).to_have_text("↑")
    # Best first: the higher rmse leads.
    header.locator("a.sort").click()
    expect(page).to_have_url(re.compile(r"sort=-metrics\.rmse/val\.last"))
    expect(page.locator("tr.task-row").first).to_have_attribute("data-task-id", pair[1]["id"])

    page.goto("/compare?ids=" + ",".join(t["id"] for t in pair))
    row = page.locator('#compare-metrics tr[data-metric="rmse/val"]')
    best = row.locator("td.best")
    expect(best).to_have_count(3)  # last, min and max of "bad": the highest now
    expect(row.locator("th summary.direction-mark")).to_have_text("↑")
    # Compare's own menu sets it back; the page marks the lower again.
    row.locator("details.col-direction summary").click()
    row.get_by_role("button", name="Lower is better").click()
    expect(row.locator("th summary.direction-mark")).to_have_text("↓")
    expect(page.locator('#compare-metrics tr[data-metric="rmse/val"] td.best')).to_have_count(3)
    first_cells = page.locator('#compare-metrics tr[data-metric="rmse/val"] td')
    expect(first_cells.nth(0)).to_have_class(re.compile(r"\bbest\b"))
    screenshot(page, "compare-direction-menu")

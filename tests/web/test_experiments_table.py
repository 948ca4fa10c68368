"""The experiments table: filters, sorts, extra columns and pages from the URL (httpx), and in
Chromium: sorting by a header and adding/removing a metric column keep the layout in the URL
and survive back; a running row turns Completed without a reload."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name, report_scalars
from tunelab.domain.lifecycle import allowed_actions
from tunelab.domain.task import TaskStatus


def project_url(http: httpx.Client, name: str) -> str:
    found = http.get("/api/v1/projects").json()["items"]
    return "/projects/" + next(p["id"] for p in found if p["name"] == name)


def row_names(html: str) -> list[str]:
    return re.findall(r'<tr class="task-row"[^>]*data-task-name="([^"]*)"', html)


def leaderboard(http: httpx.Client) -> tuple[str, dict[str, str]]:
    """A project of four runs with an lr and a loss curve each; its table URL and the ids."""
    project = project_name("board")
    ids = {}
    for name, lr, losses, status, tags in (
        ("alpha", 0.1, [0.9, 0.5, 0.6], "completed", ["best"]),
        ("bravo", 0.01, [0.8, 0.3, 0.4], "completed", []),
        ("charlie", 0.001, [0.7, 0.65], "failed", ["best", "old"]),
        ("delta", 0.5, [1.2], "draft", []),
    ):
        task = create_task(
            http, project, name, status=status, tags=tags, hyperparameters={"Args": {"lr": lr}}
        )
        report_scalars(http, task["id"], "loss", "val", losses)
        ids[name] = task["id"]
    return project_url(http, project), ids


def test_rows_follow_the_row_contract(http: httpx.Client) -> None:
    url, ids = leaderboard(http)
    page = http.get(url)
    assert page.status_code == 200
    row = re.search(rf'<tr class="task-row" data-task-id="{ids["alpha"]}"[^>]*>', page.text)
    assert row, page.text
    assert 'data-task-name="alpha"' in row.group(0)
    assert 'data-status="completed"' in row.group(0)
    actions = " ".join(allowed_actions(TaskStatus.COMPLETED))
    assert f'data-actions="{actions}"' in row.group(0)
    assert (
        f'<input type="checkbox" class="row-select" value="{ids["alpha"]}" form="bulk-form" '
        'aria-label="Select alpha">'
    ) in page.text
    assert 'aria-label="Actions for alpha">⋮</button>' in page.text
    assert 'class="select-all"' in page.text
    assert f'<a href="/experiments/{ids["alpha"]}">alpha</a>' in page.text


def test_filters_by_status_tag_type_and_text(http: httpx.Client) -> None:
    url, ids = leaderboard(http)
    by_name = "sort=name"
    assert row_names(http.get(f"{url}?{by_name}&status=completed").text) == ["alpha", "bravo"]
    assert row_names(http.get(f"{url}?{by_name}&tag=best").text) == ["alpha", "charlie"]
    assert row_names(http.get(f"{url}?{by_name}&tag=best&tag=old").text) == ["charlie"]
    assert row_names(http.get(f"{url}?{by_name}&q=HAR").text) == ["charlie"]
    assert row_names(http.get(f"{url}?type=testing").text) == []
    assert len(row_names(http.get(f"{url}?type=training&type=testing").text)) == 4
    # The API lists by type the same way.
    project = http.get(f"/api/v1/tasks/{ids['alpha']}").json()["project"]["name"]
    api = http.get("/api/v1/tasks", params={"project": project, "type": ["testing"]})
    assert api.status_code == 200 and api.json()["total"] == 0
    api = http.get("/api/v1/tasks", params={"project": project, "type": ["training"]})
    assert api.json()["total"] == 4
    # The filters show as set: a checked box, a tag chip, the text.
    page = http.get(f"{url}?status=failed&tag=old&q=ar")
    assert 'value="failed" checked' in page.text
    assert 'name="tag" value="old" checked' in page.text
    assert 'name="q" value="ar"' in page.text


def test_sorts_by_fields_hyperparameters_and_metrics(http: httpx.Client) -> None:
    url, _ = leaderboard(http)
    assert row_names(http.get(f"{url}?sort=-name").text) == ["delta", "charlie", "bravo", "alpha"]
    assert row_names(http.get(f"{url}?sort=hyperparameters.Args/lr").text) == [
        "charlie",
        "bravo",
        "alpha",
        "delta",
    ]
    page = http.get(f"{url}?sort=metrics.loss/val.min")
    assert row_names(page.text) == ["bravo", "alpha", "charlie", "delta"]
    # The header shows the sort; its link flips the direction.
    assert 'href="' + url + '?sort=name"' in page.text
    bad = http.get(f"{url}?sort=nonsense")
    assert bad.status_code == 400
    assert "cannot sort by" in bad.text


def test_extra_columns_show_values_and_come_and_go_by_url(http: httpx.Client) -> None:
    url, ids = leaderboard(http)
    cols = "hyperparameters.Args/lr,metrics.loss/val.min,metrics.loss/val.last"
    page = http.get(f"{url}?cols={cols}&sort=-metrics.loss/val.min")
    assert row_names(page.text) == ["delta", "charlie", "alpha", "bravo"]
    alpha = page.text[page.text.index(f'data-task-id="{ids["alpha"]}"') :]
    alpha = alpha[: alpha.index("</tr>")]
    assert re.findall(r'<td class="num">([^<]*)</td>', alpha)[1:] == ["0.1", "0.5", "0.6"]
    # Removing the sorted column drops the sort too; the others stay in order.
    removal = re.search(
        r'<a class="col-remove" href="([^"]*)"[^>]*Remove column loss/val min', page.text
    )
    assert removal
    assert removal.group(1) == (f"{url}?cols=hyperparameters.Args/lr,metrics.loss/val.last")
    assert http.get(f"{url}?cols=metrics.loss").status_code == 400


def test_the_column_picker_offers_the_projects_names(http: httpx.Client) -> None:
    url, _ = leaderboard(http)
    project_id = url.rsplit("/", 1)[1]
    picker = http.get(f"/table/columns?project_id={project_id}&cols=metrics.loss/val.min")
    assert picker.status_code == 200
    assert f'href="{url}?cols=hyperparameters.Args/lr"' not in picker.text  # keeps the shown one
    assert f'href="{url}?cols=metrics.loss/val.min,hyperparameters.Args/lr"' in picker.text
    assert f'href="{url}?cols=metrics.loss/val.min,metrics.loss/val.max"' in picker.text
    assert "min ✓" in picker.text


def test_pages_are_read_from_the_server_a_page_at_a_time(http: httpx.Client) -> None:
    url, _ = leaderboard(http)
    first = http.get(f"{url}?sort=name&page_size=3")
    assert row_names(first.text) == ["alpha", "bravo", "charlie"]
    assert "Page 1 of 2" in first.text and "4 experiments" in first.text
    # Next starts after the page's last row (a cursor); a page number still works.
    after = re.search(
        rf'href="{re.escape(url)}\?sort=name&amp;(after=[^&]+)&amp;page=2&amp;page_size=3"',
        first.text,
    )
    assert after, first.text
    by_cursor = http.get(f"{url}?sort=name&{after.group(1)}&page=2&page_size=3")
    assert row_names(by_cursor.text) == ["delta"]
    assert "Page 2 of 2" in by_cursor.text and 'rel="next"' not in by_cursor.text
    second = http.get(f"{url}?sort=name&page=2&page_size=3")
    assert row_names(second.text) == ["delta"]
    beyond = http.get(f"{url}?page=9")
    assert "go to the first page" in beyond.text
    assert http.get(f"{url}?page=0").status_code == 400


def test_htmx_gets_the_fragment_and_a_plain_get_the_page(http: httpx.Client) -> None:
    url, _ = leaderboard(http)
    fragment = http.get(url, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="exp-table"')
    assert "<html" not in fragment.text
    assert "<html" in http.get(url).text
    assert fragment.headers["vary"] == "HX-Request"
    assert re.fullmatch(r"app;dur=[0-9.]+", fragment.headers["server-timing"])
    assert http.get("/projects/no-such-project").status_code == 404


def test_a_live_table_polls_and_a_settled_one_does_not(http: httpx.Client) -> None:
    project = project_name("poll")
    create_task(http, project, "done", status="completed")
    url = project_url(http, project)
    settled = http.get(url).text
    # A settled table re-reads no rows on a timer: it polls only their version.
    assert 'hx-trigger="tasks-changed from:body"' in settled
    assert 'class="exp-version"' in settled
    create_task(http, project, "busy", status="running")
    live = http.get(url).text
    assert 'hx-trigger="tasks-changed from:body, every 3s"' in live
    assert 'class="exp-version"' not in live


def test_sorting_and_columns_live_in_the_url_and_survive_back(
    page: Page, http: httpx.Client
) -> None:
    url, _ = leaderboard(http)
    page.goto(url)
    names = page.locator("tr.task-row td.col-name > a")
    page.locator("th a.sort", has_text="Name").click()
    expect(page).to_have_url(re.compile(r"\?sort=name$"))
    expect(names).to_have_text(["alpha", "bravo", "charlie", "delta"])
    page.locator("th a.sort", has_text="Name").click()
    expect(page).to_have_url(re.compile(r"\?sort=-name$"))
    expect(names).to_have_text(["delta", "charlie", "bravo", "alpha"])

    # Add the loss's min from the picker (loaded when opened), then sort by it.
    page.get_by_text("Columns ▾").click()
    page.get_by_role("link", name="Add loss/val min").click()
    expect(page).to_have_url(re.compile(r"sort=-name&cols=metrics.loss/val.min$"))
    header = page.locator("th.extra-col a.sort")
    expect(header).to_have_text("loss/val min")
    header.click()
    expect(page).to_have_url(re.compile(r"sort=metrics.loss/val.min&cols=metrics.loss/val.min$"))
    expect(names).to_have_text(["bravo", "alpha", "charlie", "delta"])
    screenshot(page, "experiments-table")

    page.get_by_role("link", name="Remove column loss/val min").click()
    expect(page.locator("th.extra-col")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"{re.escape(url)}$"))

    page.go_back()
    expect(page).to_have_url(re.compile(r"sort=metrics.loss/val.min&cols=metrics.loss/val.min$"))
    expect(page.locator("th.extra-col")).to_have_attribute("aria-sort", "ascending")
    expect(names).to_have_text(["bravo", "alpha", "charlie", "delta"])
    page.go_back()
    expect(page).to_have_url(re.compile(r"sort=-name&cols=metrics.loss/val.min$"))
    expect(names).to_have_text(["delta", "charlie", "bravo", "alpha"])
    # A reload of a pushed URL renders the same table as a whole page.
    page.reload()
    expect(names).to_have_text(["delta", "charlie", "bravo", "alpha"])
    expect(header).to_have_text("loss/val min")
    expect(page.locator("th[aria-sort]")).to_have_text(re.compile("Name"))


def test_filters_refetch_the_table_and_select_all_checks_the_page(
    page: Page, http: httpx.Client
) -> None:
    url, _ = leaderboard(http)
    page.goto(url)
    page.locator("#filter-status summary").click()
    page.get_by_role("checkbox", name="Completed").check()
    expect(page).to_have_url(re.compile(r"\?status=completed$"))
    expect(page.locator("tr.task-row")).to_have_count(2)
    page.get_by_placeholder("Search names…").fill("brav")
    expect(page).to_have_url(re.compile(r"\?status=completed&q=brav$"))
    expect(page.locator("tr.task-row")).to_have_count(1)
    page.get_by_placeholder("Search names…").fill("")
    expect(page.locator("tr.task-row")).to_have_count(2)
    page.get_by_role("checkbox", name="Select all experiments on this page").check()
    expect(page.locator("input.row-select:checked")).to_have_count(2)


def test_a_running_row_turns_completed_without_a_reload(page: Page, http: httpx.Client) -> None:
    project = project_name("live")
    task = create_task(http, project, "runner", status="running")
    page.goto(project_url(http, project))
    status = page.locator(f'tr.task-row[data-task-id="{task["id"]}"] .status')
    expect(status).to_have_text("Running")
    page.locator("input.row-select").check()
    ended = http.patch(f"/api/v1/tasks/{task['id']}", json={"status": "completed"})
    assert ended.status_code == 200, ended.text
    expect(status).to_have_text("Completed", timeout=10_000)
    # The selection survives the refresh; with nothing live left, polling stops.
    expect(page.locator("input.row-select")).to_be_checked()
    expect(page.locator(".exp-poll")).to_have_attribute("data-live", "false")

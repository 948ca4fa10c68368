"""Leaderboards in Chromium: a filter set from a metric column's header narrows the table;
a saved view reopens in a new page with the same columns, filter and sort; the CSV export
holds the rows the table shows; deep pages follow a cursor."""

from __future__ import annotations

import csv
import io
import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.services import ServerProcess
from tests.web.seed import create_task, project_name, report_scalars
from tunelab.server.web.table_export import EXPORT_PAGE


def board(http: httpx.Client) -> str:
    """Five runs whose last val accuracy is 0.5..0.9; the project's table URL."""
    project = project_name("views")
    for i, name in enumerate(("ash", "birch", "cedar", "dogwood", "elm")):
        task = create_task(http, project, name, hyperparameters={"Args": {"lr": 0.1 * (i + 1)}})
        report_scalars(http, task["id"], "accuracy", "val", [0.1, 0.5 + i * 0.1])
    found = http.get("/api/v1/projects").json()["items"]
    return "/projects/" + next(p["id"] for p in found if p["name"] == project)


COLUMN = "metrics.accuracy/val.last"


def test_a_header_filter_narrows_and_a_saved_view_reopens(
    page: Page, http: httpx.Client, browser: Browser, server: ServerProcess
) -> None:
    url = board(http)
    page.goto(f"{url}?sort=-{COLUMN}&cols={COLUMN}")
    names = page.locator("tr.task-row td.col-name > a")
    expect(names).to_have_text(["elm", "dogwood", "cedar", "birch", "ash"])

    page.locator("th.extra-col details.col-filter summary").click()
    page.locator("th.extra-col select[name=fop]").select_option(">=")
    page.locator("th.extra-col input[name=fval]").fill("0.7")
    page.locator("th.extra-col").get_by_role("button", name="Apply").click()
    expect(names).to_have_text(["elm", "dogwood", "cedar"])
    expect(page).to_have_url(re.compile(r"filter=metrics.accuracy/val.last\+%3E%3D\+0.7"))
    expect(page.locator(".filter-chip")).to_have_text(re.compile(r"accuracy/val.last >= 0.7"))

    page.get_by_text("Views ▾").click()
    page.get_by_placeholder("View name").fill("top three")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".views-menu-body")).to_contain_text("Saved view “top three”")

    # Another tab, the project's plain table: the view lays it out again.
    other = browser.new_context(base_url=server.url).new_page()
    try:
        other.goto(url)
        expect(other.locator("th.extra-col")).to_have_count(0)
        other.get_by_text("Views ▾").click()
        other.get_by_role("link", name="top three").click()
        expect(other.locator("tr.task-row td.col-name > a")).to_have_text(
            ["elm", "dogwood", "cedar"]
        )
        expect(other.locator("th.extra-col a.sort")).to_have_text(re.compile(r"^accuracy/val last"))
        expect(other.locator("th.extra-col")).to_have_attribute("aria-sort", "descending")
        expect(other.locator(".filter-chip")).to_have_count(1)
    finally:
        other.context.close()

    # The export link downloads what the table shows, in its order, with its column.
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    shown = names.all_text_contents()
    assert [r["name"] for r in rows] == shown
    assert [float(r[COLUMN]) for r in rows] == [0.9, 0.8, 0.7]


def test_next_follows_a_cursor_and_the_export_streams_every_page(http: httpx.Client) -> None:
    url = board(http)
    first = http.get(f"{url}?sort={COLUMN}&cols={COLUMN}&page_size=2")
    found = re.search(r'href="([^"]*after=[^"]*)"[^>]*rel="next"', first.text)
    assert found, first.text
    second = http.get(found.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-task-name="([^"]*)"', second.text) == ["cedar", "dogwood"]
    assert "Page 2 of 3" in second.text
    export = http.get(
        f"/table/export.csv?sort={COLUMN}&cols={COLUMN}&project_id={url.rsplit('/', 1)[1]}"
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["name"] for r in rows] == ["ash", "birch", "cedar", "dogwood", "elm"]
    bad = http.get(f"{url}?filter=metrics.accuracy/val.last%20%3E%20high")
    assert bad.status_code == 400


def test_the_export_refuses_a_bad_query_before_any_row_and_streams_past_one_page(
    http: httpx.Client,
) -> None:
    project = project_name("export")
    runs = [{"name": f"run-{i:04d}", "project": project} for i in range(EXPORT_PAGE + 3)]
    assert http.post("/api/v1/tasks/batch", json={"tasks": runs}).status_code == 201
    found = http.get("/api/v1/projects").json()["items"]
    project_id = next(p["id"] for p in found if p["name"] == project)
    export = http.get("/table/export.csv", params={"project_id": project_id, "sort": "-name"})
    names = [row["name"] for row in csv.DictReader(io.StringIO(export.text))]
    assert names == [run["name"] for run in reversed(runs)]  # every page, in the table's order
    # A query the table refuses is a 400 with nothing sent, not a file cut off after its header.
    for bad in ({"status": "."}, {"type": "nope"}, {"filter": f"{COLUMN} > high"}, {"sort": "?"}):
        refused = http.get("/table/export.csv", params={"project_id": project_id, **bad})
        assert refused.status_code == 400, (bad, refused.text[:300])
        assert not refused.headers["content-type"].startswith("text/csv"), bad

"""The Compare page: differences marked against the first experiment, only differences on
request, the best metric values, the picker and the parallel coordinates in a browser."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name, report_scalars


def _row(html: str, label: str) -> str:
    """The ``<tr>`` of the side-by-side table whose header cell is ``label``."""
    match = re.search(
        rf'<tr class="compare-row [^"]*"[^>]*>\s*<th scope="row">{re.escape(label)}</th>.*?</tr>',
        html,
        re.S,
    )
    assert match, f"no row {label!r}"
    return match.group(0)


def _cells(row: str) -> list[str]:
    return re.findall(r"<td class=\"([^\"]*)\"", row)


@pytest.fixture
def trio(http: httpx.Client) -> list[dict[str, Any]]:
    """Three experiments: the second differs from the first in lr only; the third also in
    its optimizer, a configuration object and a user property; loss and accuracy reported."""
    project = project_name("compare")
    common = {"configuration": {"model": {"text": "layers: 3\nwidth: 64\n"}}}
    tasks = []
    for name, lr, optimizer, layers, owner in (
        ("base", 0.1, "adam", 3, "ana"),
        ("lower-lr", 0.01, "adam", 3, "ana"),
        ("sgd", 0.1, "sgd", 4, "bo"),
    ):
        config = {"model": {"text": f"layers: {layers}\nwidth: 64\n"}} if layers != 3 else None
        task = create_task(
            http,
            project,
            f"{name}-{project}",  # unique: the server is shared, and the search finds by name
            hyperparameters={"Args": {"lr": lr, "optimizer": optimizer, "epochs": 5}},
            configuration=config or common["configuration"],
            user_properties={"owner": {"value": owner}},
            status="completed",
        )
        tasks.append(task)
    for task, losses, accuracies in zip(
        tasks,
        ([1.0, 0.5, 0.4], [1.0, 0.3, 0.2], [0.9, 0.6, 0.5]),
        ([0.2, 0.6, 0.7], [0.3, 0.8, 0.9], [0.1, 0.5, 0.55]),
        strict=True,
    ):
        report_scalars(http, task["id"], "loss", "val", losses)
        report_scalars(http, task["id"], "accuracy", "val", accuracies)
    return tasks


def _compare(http: httpx.Client, tasks: list[dict[str, Any]], extra: str = "") -> str:
    ids = ",".join(t["id"] for t in tasks)
    page = http.get(f"/compare?ids={ids}{extra}")
    assert page.status_code == 200, page.text
    return page.text


def test_only_the_changed_parameter_is_marked_different(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    html = _compare(http, trio[:2])
    lr = _row(html, "Args/lr")
    assert 'class="compare-row differs"' in lr
    assert _cells(lr) == ["", "diff"]  # the first is the reference, never marked
    assert "not set in any: repository, branch" in html  # blank fields make no rows
    for same in ("Args/optimizer", "Args/epochs", "model", "owner", "Project"):
        row = _row(html, same)
        assert 'class="compare-row same"' in row, same
        assert "diff" not in " ".join(_cells(row)), same


def test_each_value_is_compared_with_the_first_experiments(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    html = _compare(http, trio)
    assert _cells(_row(html, "Args/lr")) == ["", "diff", ""]
    assert _cells(_row(html, "Args/optimizer")) == ["", "", "diff"]
    assert _cells(_row(html, "owner")) == ["", "", "diff"]
    model = _row(html, "model")
    assert _cells(model) == ["", "", "diff"]
    # A changed configuration object offers the lines that changed.
    assert '<span class="del">-layers: 3</span>' in model
    assert '<span class="add">+layers: 4</span>' in model


def test_only_differences_hides_the_equal_rows(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    shown = _compare(http, trio[:2])
    assert "hidden" not in _row(shown, "Args/epochs")
    only = _compare(http, trio[:2], "&only_diff=1")
    assert re.search(r'class="compare-row same" hidden', _row(only, "Args/epochs"))
    assert "hidden" not in _row(only, "Args/lr")
    assert 'id="only-diff" checked' in only
    # Links that keep the comparison keep the option too.
    assert f'href="/compare?ids={trio[1]["id"]}&amp;only_diff=1"' in only


def test_the_best_value_of_each_metric_column_is_marked(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    html = _compare(http, trio)
    loss = re.search(r'<tr data-metric="loss/val">.*?</tr>', html, re.S)
    accuracy = re.search(r'<tr data-metric="accuracy/val">.*?</tr>', html, re.S)
    assert loss and accuracy
    # Cells: (last, min, max) per experiment. Loss: lowest best; accuracy: highest best.
    loss_best = [("best" in c) for c in re.findall(r'<td class="num([^"]*)"', loss.group(0))]
    assert loss_best == [False, False, False, True, True, False, False, False, True]
    assert "Lowest is best" in loss.group(0)
    acc_best = [("best" in c) for c in re.findall(r'<td class="num([^"]*)"', accuracy.group(0))]
    assert acc_best == [False, False, False, True, True, True, False, False, False]
    assert "Highest is best" in accuracy.group(0)


def test_unknown_ids_are_a_404_page_naming_them(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    page = http.get(f"/compare?ids={trio[0]['id']},nope-1,nope-2")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "no experiments with ids &#39;nope-1&#39;, &#39;nope-2&#39;" in page.text


def test_more_than_ten_experiments_is_refused_with_a_reason(http: httpx.Client) -> None:
    page = http.get("/compare?ids=" + ",".join(f"t{i}" for i in range(11)))
    assert page.status_code == 400
    assert "at most 10 experiments can be compared at once; 11 were given" in page.text


def test_the_charts_get_the_ids_in_order_and_the_names_as_json(http: httpx.Client) -> None:
    project = project_name("compare")
    odd = create_task(http, project, 'it\'s <odd> & "quoted"')
    plain = create_task(http, project, "plain")
    html = _compare(http, [plain, odd])
    match = re.search(
        r"<div id=\"compare-charts\" data-task-ids=\"([^\"]*)\" data-task-names='([^']*)'", html
    )
    assert match, "no #compare-charts"
    assert match.group(1) == f"{plain['id']},{odd['id']}"
    names = json.loads(match.group(2))
    assert names == {plain["id"]: "plain", odd["id"]: odd["name"]}


def test_a_repeated_ids_parameter_is_read_as_a_list(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    page = http.get("/compare", params=[("ids", trio[0]["id"]), ("ids", trio[1]["id"])])
    assert page.status_code == 200
    assert "Compare 2 experiments" in page.text


def test_the_picker_builds_a_compare_url_in_the_order_ticked(
    page: Page, http: httpx.Client
) -> None:
    project = project_name("picker")
    first = create_task(http, project, f"{project}-alpha")
    second = create_task(http, project, f"{project}-beta")
    page.goto("/compare")
    compare = page.get_by_role("button", name="Compare")
    expect(compare).to_be_disabled()
    search = page.get_by_label("Search")
    # Each search replaces the list; what was ticked stays ticked.
    search.fill(f"{project}-beta")
    page.get_by_label(second["name"]).check()
    search.fill(f"{project}-alpha")
    expect(page.locator("input.compare-pick")).to_have_count(1)
    page.get_by_label(first["name"]).check()
    expect(page.locator("#compare-selected .compare-chip")).to_have_count(2)
    screenshot(page, "compare-picker")
    compare.click()
    expect(page).to_have_url(f"/compare?ids={second['id']},{first['id']}")
    expect(page.get_by_role("heading", name="Compare 2 experiments")).to_be_visible()


def test_parallel_coordinates_draw_a_line_per_experiment_on_the_chosen_axes(
    page: Page, trio: list[dict[str, Any]]
) -> None:
    page.goto("/compare?ids=" + ",".join(t["id"] for t in trio))
    chart = page.locator("#parallel-coords")
    lines = chart.locator("polyline.pc-line")
    expect(lines).to_have_count(3)
    axes = chart.locator("g.pc-axis")
    # By default the numeric parameters that differ: lr (epochs is the same everywhere,
    # optimizer is not a number), then the metric.
    expect(axes).to_have_count(2)
    assert axes.evaluate_all("gs => gs.map(g => g.dataset.key)") == ["Args/lr", "metric"]
    page.locator('input.pc-param[value="Args/optimizer"]').check()
    page.locator('input.pc-param[value="Args/lr"]').uncheck()
    expect(axes).to_have_count(2)
    assert axes.evaluate_all("gs => gs.map(g => g.dataset.key)") == ["Args/optimizer", "metric"]
    expect(page).to_have_url(re.compile(r"axes=Args/optimizer(&|$)"))
    page.locator('input.pc-param[value="Args/epochs"]').check()
    expect(axes).to_have_count(3)
    expect(lines).to_have_count(3)
    # Hovering a line names its experiment and values; a click opens it.
    line = chart.locator(f'polyline[data-task-id="{trio[2]["id"]}"]')
    line.scroll_into_view_if_needed()
    # The middle of its first segment: a point on the line itself (its box's centre is not).
    x, y = line.evaluate(
        """l => { const [a, b] = [l.points[0], l.points[1]], m = l.getScreenCTM();
                  return [m.e + (a.x + b.x) / 2, m.f + (a.y + b.y) / 2]; }"""
    )
    page.mouse.move(x, y)
    tip = chart.locator(".pc-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("sgd")
    screenshot(page, "compare-parallel-coordinates")
    page.mouse.click(x, y)
    expect(page).to_have_url(f"/experiments/{trio[2]['id']}/execution")


def test_only_differences_hides_equal_rows_without_a_reload(
    page: Page, trio: list[dict[str, Any]]
) -> None:
    page.goto(f"/compare?ids={trio[0]['id']},{trio[2]['id']}")
    epochs = page.locator("#compare-side tr.compare-row", has_text="Args/epochs")
    optimizer = page.locator("#compare-side tr.compare-row", has_text="Args/optimizer")
    expect(epochs).to_be_visible()
    expect(optimizer.locator("td.diff")).to_have_count(1)
    screenshot(page, "compare-side-by-side")
    page.get_by_label("Only differences").check()
    expect(epochs).to_be_hidden()
    expect(optimizer).to_be_visible()
    expect(page).to_have_url(re.compile(r"only_diff=1"))
    remove = page.get_by_role("link", name=f"Remove {trio[2]['name']} from the comparison")
    expect(remove).to_have_attribute("href", re.compile(r"only_diff=1"))
    page.reload()
    expect(page.get_by_label("Only differences")).to_be_checked()
    expect(epochs).to_be_hidden()
    page.get_by_label("Only differences").uncheck()
    expect(epochs).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"only_diff"))


def test_the_add_search_offers_links_adding_one_experiment(
    http: httpx.Client, trio: list[dict[str, Any]]
) -> None:
    ids = f"{trio[0]['id']},{trio[1]['id']}"
    project = trio[0]["project"]["name"]
    found = http.get(
        "/compare/search",
        params={"q": project, "ids": ids, "mode": "add", "only_diff": "1"},
        headers={"HX-Request": "true"},
    )
    assert found.status_code == 200
    assert f'href="/compare?ids={ids},{trio[2]["id"]}&amp;only_diff=1"' in found.text
    assert f"ids={ids},{trio[0]['id']}" not in found.text  # those compared are not offered
    assert project in found.text

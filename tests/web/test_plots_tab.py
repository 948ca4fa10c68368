"""The Plots tab: each kind rendered (HTML checked over httpx, charts drawn in Chromium), the
iteration selector, the empty state, and a plot's own URL."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (47, 111, 223)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _plot(kind: str, title: str, series: str, data: dict[str, Any], iteration: int = 0):
    return {"title": title, "series": series, "iteration": iteration, "kind": kind, "data": data}


def seed_plots(http: httpx.Client) -> dict[str, Any]:
    task = create_task(http, project_name("web-plots"), "plotted")
    plots = [
        *(
            _plot(
                "histogram",
                "errors",
                "val",
                {"values": [[i, 4 + i, 2]], "xlabels": ["cat", "dog", "fox"], "xaxis": "class"},
                iteration=i,
            )
            for i in (0, 5, 10)
        ),
        _plot(
            "histogram",
            "errors",
            "grouped",
            {"values": [[1, 2, 3], [3, 2, 1]], "labels": ["train", "val"]},
        ),
        _plot(
            "scatter2d",
            "pr curve",
            "val",
            {"x": [0, 0.5, 1], "y": [1, 0.8, 0.3], "mode": "lines+markers", "xaxis": "recall"},
        ),
        _plot(
            "confusion_matrix",
            "confusion",
            "val",
            {
                "matrix": [[50, 2], [7, 41]],
                "xlabels": ["cat", "dog"],
                "ylabels": ["cat", "dog"],
                "xaxis": "predicted",
                "yaxis": "actual",
            },
        ),
        _plot("table", "scores", "val", {"columns": ["class", "f1"], "rows": [["cat", 0.915]]}),
        _plot("image", "samples", "batch 0", {"mime": "image/png", "base64": _png()}),
    ]
    response = http.post(f"/api/v1/tasks/{task['id']}/plots", json={"plots": plots})
    assert response.status_code == 200, response.text
    return task


def test_html_groups_plots_by_title_at_their_last_iteration(http: httpx.Client) -> None:
    task = seed_plots(http)
    html = http.get(f"/experiments/{task['id']}/plots").text
    for title in ("confusion", "errors", "pr curve", "samples", "scores"):
        assert f">{title}</h2>" in html
    assert html.index(">confusion</h2>") < html.index(">errors</h2>")  # by title
    # The histogram at its last iteration, with a selector of all three (newest first).
    assert '"values": [[10, 14, 2]]' in html
    assert '<option value="10" selected>10</option>' in html
    assert html.index('<option value="10"') < html.index('<option value="5"')
    assert 'data-kind="scatter2d"' in html
    assert '<th scope="row">dog</th>' in html and ">predicted<" not in html  # labels
    assert "columns: predicted" in html
    assert '<td class="num">0.915</td>' in html
    assert 'src="data:image/png;base64,iVBORw0KGgo' in html


def test_a_plot_at_an_iteration_has_its_own_url(http: httpx.Client) -> None:
    task = seed_plots(http)
    url = f"/experiments/{task['id']}/plots/view"
    query = {"title": "errors", "series": "val", "iteration": 5}
    fragment = http.get(url, params=query, headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith("<article") and "[[5, 9, 2]]" in fragment
    page = http.get(url, params=query).text
    assert '<nav class="tabs"' in page and "All plots" in page and "[[5, 9, 2]]" in page
    missing = http.get(url, params={**query, "iteration": 7})
    assert missing.status_code == 404
    assert "no plot &#39;errors&#39;/&#39;val&#39; at iteration 7" in missing.text


def test_empty_state(http: httpx.Client) -> None:
    task = create_task(http, project_name("web-plots"), "no plots")
    html = http.get(f"/experiments/{task['id']}/plots").text
    assert "No plots reported yet." in html


def test_each_kind_renders_and_the_iteration_selector_swaps(page: Page, http: httpx.Client) -> None:
    task = seed_plots(http)
    page.goto(f"/experiments/{task['id']}/plots")
    charts = page.locator(".plot-chart")
    expect(charts).to_have_count(3)
    for i in range(3):
        expect(charts.nth(i).locator("canvas")).to_have_count(1)
    expect(page.locator(".plot-chart .u-legend").first).to_be_visible()
    expect(page.locator("table.confusion td.dark")).to_have_count(2)  # 50 and 41
    expect(page.locator(".plot-table td").first).to_have_text("cat")
    image = page.locator("img.plot-image")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 60
    screenshot(page, "plots-tab")

    card = page.locator("article.plot-card[data-series='val'][data-title='errors']")
    expect(card).to_have_attribute("data-iteration", "10")
    select = card.get_by_label("Iteration")
    select.focus()
    select.select_option("5")
    expect(card).to_have_attribute("data-iteration", "5")
    expect(card.locator(".plot-chart canvas")).to_have_count(1)
    expect(card.get_by_label("Iteration")).to_be_focused()
    expect(card.get_by_label("Iteration")).to_have_value("5")

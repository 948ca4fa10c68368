"""plotly figures on the Plots tab and the Compare page, drawn by the vendored plotly.js in
Chromium under the pages' Content-Security-Policy; plotly.js is loaded only by pages that
hold such a figure."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from playwright.sync_api import Page, Request, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name
from tunelab.sdk import plotly_data

PLOTLY_JS = "/static/vendor/plotly/plotly.min.js"
# plotly.js is ~5 MB of script to parse: on a busy machine that takes seconds.
DRAWN_MS = 30_000


def _post(http: httpx.Client, task_id: str, *plots: dict[str, Any]) -> None:
    response = http.post(f"/api/v1/tasks/{task_id}/plots", json={"plots": list(plots)})
    assert response.status_code == 200, response.text


def _surface(task_id: str, http: httpx.Client, scale: float = 1.0) -> None:
    grid = np.linspace(-2, 2, 30)
    heights = np.sin(grid[:, None]) * np.cos(grid[None, :]) * scale
    _post(
        http,
        task_id,
        plotly_data.surface("landscape", "val", heights, xaxis="lr", yaxis="wd", zaxis="loss"),
        plotly_data.line_plot(
            "curves",
            [plotly_data.SeriesInfo("train", [(0, 1), (1, 0.5 * scale), (2, 0.2)])],
            xaxis="epoch",
        ),
    )


def _requests(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(_path(request)))
    return seen


def _path(request: Request) -> str:
    return urlsplit(request.url).path


def test_a_surface_is_drawn_under_the_pages_policy(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name("web-plotly"), "surface")
    _surface(task["id"], http)
    line = plotly_data.line_plot("curves", [plotly_data.SeriesInfo("train", [(0, 3), (1, 2)])])
    _post(http, task["id"], {**line, "iteration": 1})
    html = http.get(f"/experiments/{task['id']}/plots").text
    assert 'class="plotly-chart"' in html and "<script>" not in html
    requested = _requests(page)
    page.goto(f"/experiments/{task['id']}/plots")
    surface = page.locator("article[data-title='landscape'] .plotly-chart")
    expect(surface).to_have_attribute("data-drawn", "true", timeout=DRAWN_MS)
    # The 3D scene is a WebGL canvas of the card's size; the line plot is SVG.
    canvas = surface.locator(".gl-container canvas").first
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    assert canvas.evaluate("c => !!(c.getContext('webgl') || c.getContext('webgl2'))")
    curves = page.locator("article[data-title='curves'] .plotly-chart")
    expect(curves).to_have_attribute("data-drawn", "true", timeout=DRAWN_MS)
    expect(curves.locator("svg.main-svg path.js-line")).to_have_count(1)
    assert requested.count(PLOTLY_JS) == 1
    screenshot(page, "plots-plotly-surface")
    # The iteration selector swaps in the card of iteration 0: drawn as it arrives.
    page.locator("article[data-title='curves'] .plot-iteration select").select_option("0")
    card = page.locator("article[data-title='curves'][data-iteration='0']")
    expect(card.locator(".plotly-chart")).to_have_attribute("data-drawn", "true")
    expect(card.locator("text.xtitle")).to_have_text("epoch")
    assert requested.count(PLOTLY_JS) == 1
    # The page fixture fails the test on any console error: a CSP violation is one.


def test_a_figures_text_stays_data(http: httpx.Client) -> None:
    task = create_task(http, project_name("web-plotly"), "hostile")
    hostile = "</div><script>alert(1)</script><img src=x onerror=alert(2)>'"
    figure = {"data": [{"type": "scatter", "x": [1], "y": [2], "name": hostile}]}
    figure["layout"] = {"title": {"text": hostile}}
    _post(http, task["id"], plotly_data.plotly("t", "s", figure))
    html = http.get(f"/experiments/{task['id']}/plots").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "\\u003c/div\\u003e\\u003cscript\\u003e" in html  # inside data-plot, as JSON


def test_pages_without_a_plotly_figure_do_not_load_plotly(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name("web-plotly"), "no plotly")
    _post(
        http,
        task["id"],
        {
            "title": "t",
            "series": "s",
            "iteration": 0,
            "kind": "scatter2d",
            "data": {"x": [0, 1], "y": [1, 2]},
        },
    )
    requested = _requests(page)
    page.goto(f"/experiments/{task['id']}/plots")
    expect(page.locator(".plot-chart canvas")).to_have_count(1)
    assert PLOTLY_JS not in requested
    assert page.evaluate("typeof window.Plotly") == "undefined"


def test_compare_shows_plotly_figures_side_by_side(page: Page, http: httpx.Client) -> None:
    project = project_name("web-plotly-compare")
    first = create_task(http, project, "first")
    second = create_task(http, project, "second")
    _surface(first["id"], http)
    _surface(second["id"], http, scale=2.0)
    page.goto(f"/compare?ids={first['id']}&ids={second['id']}")
    section = page.locator("#compare-plots")
    expect(section.locator("h3")).to_have_text(["curves / plot", "landscape / val"])
    row = section.locator(".compare-plot-row").nth(1)
    expect(row.locator(".plotly-chart[data-drawn='true']")).to_have_count(2, timeout=DRAWN_MS)
    expect(row.locator(".compare-plot-cell h4 a")).to_have_text(["first", "second"])
    # Line plots are overlaid: one chart, a line per experiment named after it.
    overlay = section.locator(".compare-plot-row").nth(0).locator(".plotly-chart")
    expect(overlay).to_have_count(1)
    expect(overlay).to_have_attribute("data-drawn", "true", timeout=DRAWN_MS)
    expect(overlay.locator(".scatterlayer path.js-line")).to_have_count(2)
    expect(overlay.locator("text.legendtext")).to_have_text(["first: train", "second: train"])
    screenshot(page, "compare-plotly")

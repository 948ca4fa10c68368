"""The Plots tab: each kind rendered (HTML checked over httpx, charts drawn in Chromium), the
iteration selector, the empty state, a plot's own URL, and the chart tools on every plot (log
scale, legend toggles, zoom, PNG and CSV downloads, full screen)."""

from __future__ import annotations

import base64
import csv
import io
import re
from typing import Any

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name
from tests.web.test_chart_tools import PNG_SIGNATURE, chart, download, drag, x_range


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
    expect(card.locator(".chart-tools")).to_have_count(1)
    expect(card.get_by_label("Iteration")).to_be_focused()
    expect(card.get_by_label("Iteration")).to_have_value("5")


# --- the chart tools on plots ------------------------------------------------------------

TRAIN, VAL = (47, 111, 223), (224, 128, 43)  # the first two bar colours
SCATTER_X = [0.95, 0.05, 0.5, 0.25, 0.75, 0.1, 0.9, 0.4, 0.6, 0.3]
SCATTER_Y = [0.2, 1.0, 0.7, 0.9, 0.5, 0.95, 0.25, 0.8, 0.6, 0.85]
MATRIX = [[0.125, 1 / 3, 0.0], [2 / 3, 0.875, 1e-07], [12, 0, 3.5]]
TABLE_ROWS = [["cat", 0.9151234567, 'big, "fat"'], ["dog", None, True], ["fox", 3, "a\nb"]]


def seed_tool_plots(http: httpx.Client) -> dict[str, Any]:
    """One plot of each kind with numbers the tools can be checked against."""
    task = create_task(http, project_name("plot-tools"), "plot tools", status="completed")
    plots = [
        _plot(
            "histogram",
            "sizes",
            "by split",
            {
                "values": [[1, 10, 100, 1000, 3, 30], [2, 5, 50, 500, 0, 20]],
                "labels": ["train", "val"],
                "xlabels": ["a", "b", "c", "d", "e", "f"],
                "xaxis": "bucket",
                "yaxis": "count",
            },
        ),
        _plot(
            "scatter2d",
            "pr curve",
            "val",
            {"x": SCATTER_X, "y": SCATTER_Y, "mode": "markers", "xaxis": "recall"},
        ),
        _plot(
            "confusion_matrix",
            "confusion",
            "val",
            {"matrix": MATRIX, "xlabels": ["cat", "dog", "fox"], "xaxis": "predicted"},
        ),
        _plot("table", "scores", "val", {"columns": ["class", "f1", "note"], "rows": TABLE_ROWS}),
        _plot("image", "samples", "batch 0", {"mime": "image/png", "base64": _png()}),
    ]
    response = http.post(f"/api/v1/tasks/{task['id']}/plots", json={"plots": plots})
    assert response.status_code == 200, response.text
    return task


def open_plots(page: Page, task: dict[str, Any]) -> dict[str, Locator]:
    page.goto(f"/experiments/{task['id']}/plots")
    cards = {
        name: page.locator(f"article.plot-card[data-title='{title}']")
        for name, title in [
            ("histogram", "sizes"),
            ("scatter", "pr curve"),
            ("matrix", "confusion"),
            ("table", "scores"),
            ("image", "samples"),
        ]
    }
    for card in cards.values():
        expect(card.locator(".chart-tools")).to_have_count(1)
    return cards


def tools(card: Locator) -> list[str]:
    return card.locator(".chart-tools [data-tool]").evaluate_all(  # type: ignore[no-any-return]
        "buttons => buttons.map(b => b.dataset.tool)"
    )


def painted(card: Locator, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the card's chart canvas have the colour ``rgb``."""
    return card.locator(".chart-plot").evaluate(  # type: ignore[no-any-return]
        """(p, [r, g, b]) => {
            const u = p.__chart;
            const c = u.ctx.canvas;
            const px = u.ctx.getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4) {
                const near = Math.abs(px[i] - r) < 6 && Math.abs(px[i + 1] - g) < 6
                    && Math.abs(px[i + 2] - b) < 6;
                if (near && px[i + 3] > 0) n++;
            }
            return n;
        }""",
        list(rgb),
    )


def csv_rows(page: Page, card: Locator) -> list[list[str]]:
    return list(csv.reader(io.StringIO(download(page, card, "csv").decode())))


def png_image(page: Page, card: Locator) -> Image.Image:
    data = download(page, card, "png")
    assert data.startswith(PNG_SIGNATURE)
    return Image.open(io.BytesIO(data)).convert("RGB")


def count_colour(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    pixels = np.asarray(image, dtype=np.int16)
    return int((np.abs(pixels - np.array(rgb)) < tolerance).all(axis=-1).sum())


def test_every_plot_gets_the_tools_that_apply(page: Page, http: httpx.Client) -> None:
    cards = open_plots(page, seed_tool_plots(http))
    xy = ["log", "reset", "png", "csv", "full"]
    assert tools(cards["histogram"]) == xy and tools(cards["scatter"]) == xy
    assert tools(cards["matrix"]) == ["png", "csv", "full"]
    assert tools(cards["table"]) == ["png", "csv", "full"]
    assert tools(cards["image"]) == ["png", "full"]
    screenshot(page, "plots-tools")


def test_log_scale_and_legend_on_a_histogram(page: Page, http: httpx.Client) -> None:
    histogram = open_plots(page, seed_tool_plots(http))["histogram"]
    assert chart(histogram, "u.scales.y.distr") == 1
    histogram.locator('[data-tool="log"]').click()
    expect(histogram).to_have_attribute("data-log-scale", "true")
    expect(histogram.locator('[data-tool="log"]')).to_have_attribute("aria-pressed", "true")
    assert chart(histogram, "u.scales.y.distr") == 3
    decades = chart(
        histogram,
        "[u.valToPos(1, 'y') - u.valToPos(10, 'y'), u.valToPos(100, 'y') - u.valToPos(1000, 'y')]",
    )
    assert decades[0] > 10 and abs(decades[0] - decades[1]) < 0.5
    assert painted(histogram, TRAIN) > 100 and painted(histogram, VAL) > 100
    screenshot(page, "plots-histogram-log")
    page.reload()  # kept for this plot, as on the Scalars tab
    expect(histogram.locator('[data-tool="log"]')).to_have_attribute("aria-pressed", "true")
    assert chart(histogram, "u.scales.y.distr") == 3
    histogram.locator('[data-tool="log"]').click()
    expect(histogram).to_have_attribute("data-log-scale", "false")
    assert chart(histogram, "u.scales.y.distr") == 1

    # A legend entry hides its bars: gone from the drawing, the entry struck through.
    val = histogram.locator(".u-legend .u-series").nth(2)
    expect(val.locator(".u-label")).to_have_text("val")
    val.click()
    expect(val).to_have_class(re.compile(r"\bu-off\b"))
    assert chart(histogram, "u.series.map(s => s.show)") == [True, True, False]
    assert painted(histogram, VAL) == 0 and painted(histogram, TRAIN) > 100
    assert val.locator(".u-label").evaluate("e => getComputedStyle(e).textDecorationLine") == (
        "line-through"
    )
    screenshot(page, "plots-histogram-hidden-series")

    # CSV: a row per bin, a column of counts per shown series.
    assert csv_rows(page, histogram) == [
        ["bucket", "train"],
        *[[b, str(n)] for b, n in zip("abcdef", [1, 10, 100, 1000, 3, 30], strict=True)],
    ]
    val.click()
    assert painted(histogram, VAL) > 100
    assert csv_rows(page, histogram) == [
        ["bucket", "train", "val"],
        ["a", "1", "2"],
        ["b", "10", "5"],
        ["c", "100", "50"],
        ["d", "1000", "500"],
        ["e", "3", "0"],
        ["f", "30", "20"],
    ]


def test_zoom_and_reset_on_histogram_and_scatter(page: Page, http: httpx.Client) -> None:
    cards = open_plots(page, seed_tool_plots(http))
    histogram, scatter = cards["histogram"], cards["scatter"]
    assert x_range(histogram) == [-0.5, 5.5]
    histogram.locator(".u-over").scroll_into_view_if_needed()
    drag(page, histogram, 0.3, 0.7)
    low, high = x_range(histogram)
    assert 0.5 < low < high < 4.5
    expect(histogram).to_have_attribute("data-zoomed", "true")
    screenshot(page, "plots-histogram-zoomed")
    histogram.locator('[data-tool="reset"]').click()
    expect(histogram).to_have_attribute("data-zoomed", "false")
    assert x_range(histogram) == [-0.5, 5.5]
    drag(page, histogram, 0.3, 0.7)
    histogram.locator(".u-over").dblclick()
    expect(histogram).to_have_attribute("data-zoomed", "false")
    assert x_range(histogram) == [-0.5, 5.5]

    whole = x_range(scatter)
    assert whole[0] <= 0.05 and whole[1] >= 0.95
    scatter.locator(".u-over").scroll_into_view_if_needed()
    drag(page, scatter, 0.2, 0.5)
    low, high = x_range(scatter)
    assert whole[0] < low < high < whole[1] and high - low < 0.5
    expect(scatter).to_have_attribute("data-zoomed", "true")
    scatter.locator('[data-tool="reset"]').click()
    expect(scatter).to_have_attribute("data-zoomed", "false")
    assert x_range(scatter) == whole

    # Log scale on the scatter's y axis; its CSV is the points as reported.
    scatter.locator('[data-tool="log"]').click()
    expect(scatter).to_have_attribute("data-log-scale", "true")
    assert chart(scatter, "u.scales.y.distr") == 3
    rows = csv_rows(page, scatter)
    assert rows[0] == ["recall", "val"]
    assert [[float(x), float(y)] for x, y in rows[1:]] == [
        [x, y] for x, y in zip(SCATTER_X, SCATTER_Y, strict=True)
    ]


def test_downloads_of_tables_matrices_and_images(page: Page, http: httpx.Client) -> None:
    cards = open_plots(page, seed_tool_plots(http))

    # CSV of a matrix and a table: their cells as stored, not as rounded for the page.
    rows = csv_rows(page, cards["matrix"])
    assert rows[0] == ["", "cat", "dog", "fox"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert [[float(v) for v in r[1:]] for r in rows[1:]] == MATRIX
    assert csv_rows(page, cards["table"]) == [
        ["class", "f1", "note"],
        ["cat", "0.9151234567", 'big, "fat"'],
        ["dog", "", "true"],
        ["fox", "3", "a\nb"],
    ]

    # PNG of a chart: the plot's canvas with title and legend; of a matrix: its cells.
    histogram = cards["histogram"]
    image = png_image(page, histogram)
    canvas = chart(histogram, "[u.ctx.canvas.width, u.ctx.canvas.height]")
    assert image.width == canvas[0] and image.height > canvas[1]
    assert count_colour(image, TRAIN) > 100 and count_colour(image, VAL) > 100
    dark = cards["matrix"].locator("td.dark").first
    shade = dark.evaluate(
        """td => {
            const c = document.createElement('canvas').getContext('2d');
            c.fillStyle = getComputedStyle(td).backgroundColor;
            c.fillRect(0, 0, 1, 1);
            return Array.from(c.getImageData(0, 0, 1, 1).data.slice(0, 3));
        }"""
    )
    box = dark.bounding_box()
    assert box
    matrix = png_image(page, cards["matrix"])
    cell_area = box["width"] * box["height"]
    assert count_colour(matrix, (shade[0], shade[1], shade[2])) > cell_area * 0.5
    table = cards["table"].locator("table").bounding_box()
    assert table
    picture = png_image(page, cards["table"])
    assert picture.width >= table["width"] and picture.height > table["height"]
    # The image plot as a PNG: the reported picture (60x40, one blue) under its title.
    sample = png_image(page, cards["image"])
    assert sample.width >= 60 and count_colour(sample, (47, 111, 223)) >= 60 * 40


def test_full_screen_for_a_chart_and_a_table(page: Page, http: httpx.Client) -> None:
    cards = open_plots(page, seed_tool_plots(http))
    viewport = page.viewport_size
    assert viewport
    histogram = cards["histogram"]
    histogram.locator('[data-tool="full"]').click()
    expect(histogram).to_have_attribute("data-full", "true")
    page.wait_for_function(
        """([c, w, h]) => {
            const canvas = c.querySelector('canvas').getBoundingClientRect();
            return canvas.width > w - 80 && canvas.height > h * 0.6;
        }""",
        arg=[histogram.element_handle(), viewport["width"], viewport["height"]],
    )
    screenshot(page, "plots-full-screen")
    histogram.locator('[data-tool="full"]').click()
    expect(histogram).to_have_attribute("data-full", "false")
    page.wait_for_function(
        "c => c.querySelector('.chart-plot').__chart.height === 260",
        arg=histogram.element_handle(),
    )

    table = cards["table"]
    table.locator('[data-tool="full"]').click()
    expect(table).to_have_attribute("data-full", "true")
    box = table.bounding_box()
    assert box and box["width"] > viewport["width"] - 40 and box["height"] > viewport["height"] - 40
    table.locator('[data-tool="full"]').click()
    expect(table).to_have_attribute("data-full", "false")
    box = table.bounding_box()
    assert box and box["width"] < viewport["width"] / 2 + 40

    # An image grows to the screen's height.
    image = cards["image"]
    image.locator('[data-tool="full"]').click()
    expect(image).to_have_attribute("data-full", "true")
    box = image.locator("img").bounding_box()
    assert box and box["height"] > viewport["height"] * 0.6
    image.locator('[data-tool="full"]').click()
    expect(image).to_have_attribute("data-full", "false")
    box = image.locator("img").bounding_box()
    assert box and box["height"] == 40

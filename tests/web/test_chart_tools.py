"""What a reader does with a scalar chart, in real Chromium: a log scale, a legend entry that
hides its line, drag-zoom and its reset, one x-range across the page's charts, a y-range
without the first iterations' spike, PNG and CSV downloads, and full screen."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name, report_scalars

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPIKE = 40.0


def spiky_task(http: httpx.Client) -> dict[str, Any]:
    """loss/train: a spike at iteration 0, then a slow fall; loss/val and accuracy/val shorter."""
    task = create_task(http, project_name("charttools"), "charttools", status="completed")
    report_scalars(
        http, task["id"], "loss", "train", [SPIKE] + [1 / (1 + 0.1 * i) for i in range(1, 60)]
    )
    report_scalars(http, task["id"], "loss", "val", [0.9, 0.7, 0.5, 0.45])
    report_scalars(http, task["id"], "accuracy", "val", [0.1 + 0.02 * i for i in range(30)])
    return task


def chart(card: Locator, expression: str) -> Any:
    """``expression`` of the card's uPlot instance ``u``."""
    return card.locator(".chart-plot").evaluate(
        f"p => {{ const u = p.__chart; return {expression}; }}"
    )


def x_range(card: Locator) -> list[float]:
    return chart(card, "[u.scales.x.min, u.scales.x.max]")  # type: ignore[no-any-return]


def drag(page: Page, card: Locator, start: float, end: float) -> None:
    """Drag across the plot from ``start`` to ``end`` (shares of its width)."""
    box = card.locator(".u-over").bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def open_tab(page: Page, task: dict[str, Any]) -> tuple[Locator, Locator]:
    page.goto(f"/experiments/{task['id']}/scalars")
    loss = page.locator('.chart-card[data-chart-key="loss"]')
    accuracy = page.locator('.chart-card[data-chart-key="accuracy"]')
    expect(loss).to_have_attribute("data-points", "64")
    expect(loss.locator(".chart-tools")).to_have_count(1)
    expect(accuracy.locator(".chart-tools")).to_have_count(1)
    return loss, accuracy


def download(page: Page, card: Locator, tool: str) -> bytes:
    with page.expect_download() as info:
        card.locator(f'[data-tool="{tool}"]').click()
    path = info.value.path()
    with open(path, "rb") as handle:
        return handle.read()


def test_log_scale_legend_toggles_and_downloads(page: Page, http: httpx.Client) -> None:
    task = spiky_task(http)
    report_scalars(http, task["id"], "margin", "val", [-1.0, 0.0, 0.5, 2.0])
    loss, _ = open_tab(page, task)
    assert chart(loss, "u.scales.y.distr") == 1

    # Log scale: a decade takes the same height wherever it sits, and it survives a reload.
    loss.locator('[data-tool="log"]').click()
    expect(loss).to_have_attribute("data-log-scale", "true")
    expect(loss.locator('[data-tool="log"]')).to_have_attribute("aria-pressed", "true")
    assert chart(loss, "u.scales.y.distr") == 3
    decades = chart(
        loss,
        "[u.valToPos(0.1, 'y') - u.valToPos(1, 'y'), u.valToPos(1, 'y') - u.valToPos(10, 'y')]",
    )
    assert decades[0] > 10 and abs(decades[0] - decades[1]) < 0.5
    screenshot(page, "chart-log-scale")
    page.reload()
    expect(loss.locator('[data-tool="log"]')).to_have_attribute("aria-pressed", "true")
    assert chart(loss, "u.scales.y.distr") == 3
    loss.locator('[data-tool="log"]').click()
    expect(loss).to_have_attribute("data-log-scale", "false")
    assert chart(loss, "u.scales.y.distr") == 1
    # A line through zero and below: the log scale shows its positive points (no error).
    margin = page.locator('.chart-card[data-chart-key="margin"]')
    margin.locator('[data-tool="log"]').click()
    expect(margin).to_have_attribute("data-log-scale", "true")
    low, high = chart(margin, "[u.scales.y.min, u.scales.y.max]")
    assert 0 < low <= 0.5 and high >= 2

    # A legend entry hides its line (and its raw twin); the entry stays, struck through.
    val = loss.locator(".u-legend .u-series:not(.raw-series)").nth(2)
    expect(val.locator(".u-label")).to_have_text("val")
    val.click()
    expect(val).to_have_class(re.compile(r"\bu-off\b"))
    assert chart(loss, "u.series.map(s => s.show)") == [True, True, True, False, False]
    assert val.locator(".u-label").evaluate("e => getComputedStyle(e).textDecorationLine") == (
        "line-through"
    )

    # CSV: x and one column per shown line, equal to the stored series.
    series = http.get(f"/api/v1/tasks/{task['id']}/scalars").json()["metrics"]["loss"]
    rows = list(csv.reader(io.StringIO(download(page, loss, "csv").decode())))
    assert rows[0] == ["Iteration", "train"]
    assert [int(r[0]) for r in rows[1:]] == series["train"]["x"]
    assert [float(r[1]) for r in rows[1:]] == series["train"]["y"]
    val.click()
    rows = list(csv.reader(io.StringIO(download(page, loss, "csv").decode())))
    assert rows[0] == ["Iteration", "train", "val"]
    shown_val = {int(r[0]): float(r[2]) for r in rows[1:] if r[2]}
    assert shown_val == dict(zip(series["val"]["x"], series["val"]["y"], strict=True))

    # PNG: an image as wide as the plot's canvas, taller (title and legend drawn around it).
    png = download(page, loss, "png")
    assert png.startswith(PNG_SIGNATURE) and len(png) > 2000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    canvas = chart(loss, "[u.ctx.canvas.width, u.ctx.canvas.height]")
    assert width == canvas[0] and height > canvas[1]


def test_zoom_reset_synced_x_range_and_the_spike_toggle(page: Page, http: httpx.Client) -> None:
    task = spiky_task(http)
    loss, accuracy = open_tab(page, task)
    assert x_range(loss) == [0, 59] and x_range(accuracy) == [0, 29]

    # Drag to zoom; a double click or the Reset button shows the whole range again.
    drag(page, loss, 0.25, 0.6)
    low, high = x_range(loss)
    assert 10 < low < high < 40
    expect(loss).to_have_attribute("data-zoomed", "true")
    assert x_range(accuracy) == [0, 29]  # not synced: the other chart stays
    screenshot(page, "chart-zoomed")
    loss.locator(".u-over").dblclick()
    page.wait_for_function(
        "c => { const u = c.querySelector('.chart-plot').__chart; return u.scales.x.max === 59; }",
        arg=loss.element_handle(),
    )
    assert x_range(loss) == [0, 59]
    drag(page, loss, 0.25, 0.6)
    assert x_range(loss)[1] < 40
    loss.locator('[data-tool="reset"]').click()
    expect(loss).to_have_attribute("data-zoomed", "false")
    assert x_range(loss) == [0, 59]

    # Synced: zooming one chart zooms the others to the same x-range; reset resets them all.
    page.locator('input[name="sync"]').check()
    drag(page, loss, 0.2, 0.4)
    zoomed = x_range(loss)
    assert zoomed[1] < 30
    page.wait_for_function(
        "([c, max]) => c.querySelector('.chart-plot').__chart.scales.x.max === max",
        arg=[accuracy.element_handle(), zoomed[1]],
    )
    assert x_range(accuracy) == zoomed
    loss.locator('[data-tool="reset"]').click()
    expect(accuracy).to_have_attribute("data-zoomed", "false")
    assert x_range(loss) == [0, 59] and x_range(accuracy) == [0, 29]

    # The spike toggle: the y-range leaves out iteration 0's 40 and follows the rest.
    assert chart(loss, "u.scales.y.max") >= SPIKE
    page.locator('input[name="spike"]').check()
    page.wait_for_function(
        "c => c.querySelector('.chart-plot').__chart.scales.y.max < 2", arg=loss.element_handle()
    )
    low, high = chart(loss, "[u.scales.y.min, u.scales.y.max]")
    assert low < 1 / (1 + 5.9) and high > 0.9  # the rest of the curve stays in view
    page.reload()  # both page toggles are kept
    expect(page.locator('input[name="spike"]')).to_be_checked()
    expect(page.locator('input[name="sync"]')).to_be_checked()
    expect(loss.locator("canvas")).to_have_count(1)
    assert chart(loss, "u.scales.y.max") < 2


def test_a_synced_zoom_holds_however_late_the_pages_timers_run(
    page: Page, http: httpx.Client
) -> None:
    """A busy browser runs timers late: one left by an earlier click may run while the reader
    is already dragging. The zoom must still reach the other charts."""
    task = spiky_task(http)
    loss, accuracy = open_tab(page, task)
    page.clock.install()
    page.clock.pause_at(datetime(2030, 1, 1, tzinfo=UTC))
    page.locator('input[name="sync"]').check()
    box = loss.locator(".u-over").bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.clock.run_for(50)  # the timers the check's click left run now, mid-drag
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.up()
    zoomed = x_range(loss)
    assert zoomed[1] < 30
    expect(accuracy).to_have_attribute("data-zoomed", "true")
    assert x_range(accuracy) == zoomed


def test_a_chart_goes_full_screen_and_back(page: Page, http: httpx.Client) -> None:
    task = spiky_task(http)
    loss, _ = open_tab(page, task)
    loss.locator('[data-tool="full"]').click()
    expect(loss).to_have_attribute("data-full", "true")
    viewport = page.viewport_size
    assert viewport
    page.wait_for_function(
        """([c, w, h]) => {
            const canvas = c.querySelector('canvas').getBoundingClientRect();
            return canvas.width > w - 80 && canvas.height > h * 0.6;
        }""",
        arg=[loss.element_handle(), viewport["width"], viewport["height"]],
    )
    screenshot(page, "chart-full-screen")
    # It follows a resized window while full screen.
    page.set_viewport_size({"width": 1000, "height": 700})
    page.wait_for_function(
        """c => {
            const canvas = c.querySelector('canvas').getBoundingClientRect();
            return canvas.width > 920 && canvas.width <= 1000 && canvas.height > 420;
        }""",
        arg=loss.element_handle(),
    )
    loss.locator('[data-tool="full"]').click()
    expect(loss).to_have_attribute("data-full", "false")
    page.wait_for_function(
        "c => c.querySelector('.chart-plot').__chart.height === 240", arg=loss.element_handle()
    )


def test_the_compare_overlay_has_the_same_tools(page: Page, http: httpx.Client) -> None:
    pair = [spiky_task(http), spiky_task(http)]
    page.goto("/compare?ids=" + ",".join(t["id"] for t in pair))
    cards = page.locator("#compare-charts .chart-card")
    expect(cards).to_have_count(3)
    expect(page.locator("#compare-charts .chart-tools")).to_have_count(3)
    expect(page.locator('#compare-charts input[name="sync"]')).to_have_count(1)
    train = page.locator('.chart-card[data-chart-key="loss / train"]')
    train.locator('[data-tool="log"]').click()
    assert chart(train, "u.scales.y.distr") == 3

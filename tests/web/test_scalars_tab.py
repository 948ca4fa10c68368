"""The Scalars tab and the charts script: exact summary tables, incremental reads over the
API, and in a browser the charts, their options in the URL, the live refresh, a 1M-point
series read downsampled, and the Compare page's overlay."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
from playwright.sync_api import Page, Request, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name, report_scalars
from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, decode_read_frame, encode_frame


def post_points(
    http: httpx.Client, task_id: str, metric: str, variant: str, its: list[int]
) -> None:
    """Points at ``its`` with values 1/(i+1), one second apart."""
    now = time.time()
    series = {
        "metric": metric,
        "variant": variant,
        "iterations": its,
        "values": [1 / (i + 1) for i in its],
        "timestamps": [now - len(its) + k for k in range(len(its))],
    }
    answer = http.post(f"/api/v1/tasks/{task_id}/scalars", json={"series": [series]})
    assert answer.status_code == 200, answer.text


def scalar_task(http: httpx.Client, status: str = "completed") -> dict[str, Any]:
    task = create_task(http, project_name("scalars"), "scalars", status=status)
    report_scalars(http, task["id"], "loss", "train", [1.0, 0.6, 0.9, 0.3, 0.35])
    report_scalars(http, task["id"], "loss", "val", [1.2, 0.8, 0.7])
    report_scalars(http, task["id"], "accuracy", "val", [0.1, 0.5, 0.8, 0.75])
    report_scalars(http, task["id"], "Summary", "test_accuracy", [0.93])
    return task


def test_the_summary_table_is_exact_and_single_values_are_a_table(http: httpx.Client) -> None:
    task = scalar_task(http)
    html = http.get(f"/experiments/{task['id']}/scalars").text
    metrics = http.get(f"/api/v1/tasks/{task['id']}/metrics").json()["metrics"]
    for metric, variant in (("loss", "train"), ("loss", "val"), ("accuracy", "val")):
        s = metrics[metric][variant]
        row = re.search(
            rf'<tr data-metric="{metric}" data-variant="{variant}">(.*?)</tr>', html, re.S
        )
        assert row, (metric, variant)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
        expected = [metric, variant, s["last"], s["last_iter"], s["min"], s["min_iter"]]
        expected += [s["max"], s["max_iter"], s["count"]]
        assert cells == [f"{v:.6g}" if isinstance(v, float) else str(v) for v in expected]
    assert 'data-metric="Summary"' not in html  # a single value is no chart and no curve
    single = re.search(r'<tr data-variant="test_accuracy">(.*?)</tr>', html, re.S)
    assert single and "0.93" in single.group(1)
    # The summary alone, for the live refresh; a plain visit to its URL is the whole tab.
    part = http.get(f"/experiments/{task['id']}/scalars/summary", headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<section class="scalar-summary"')
    assert "experiment-head" in http.get(f"/experiments/{task['id']}/scalars/summary").text
    # A hand-edited URL with odd options still shows the tab, with the defaults.
    odd = http.get(f"/experiments/{task['id']}/scalars?smooth=nan&x=sideways")
    assert odd.status_code == 200 and 'value="0.00"' in odd.text


def test_reads_after_a_cursor_answer_only_new_points(http: httpx.Client) -> None:
    task = create_task(http, project_name("after"), "after", status="running")
    other = create_task(http, project_name("after"), "other", status="running")
    url = f"/api/v1/tasks/{task['id']}/scalars"
    assert http.get(url).json() == {"metrics": {}, "cursor": 0}
    post_points(http, task["id"], "loss", "train", [0, 1, 2])
    first = http.get(url).json()
    assert first["metrics"]["loss"]["train"]["x"] == [0, 1, 2]
    post_points(http, task["id"], "loss", "train", [3, 4])
    post_points(http, other["id"], "loss", "train", [0])
    new = http.get(url, params={"after": first["cursor"]}).json()
    assert new["metrics"]["loss"]["train"]["x"] == [3, 4]
    assert new["metrics"]["loss"]["train"]["total"] == 2
    assert new["cursor"] > first["cursor"]
    assert http.get(url, params={"after": new["cursor"]}).json() == {
        "metrics": {},
        "cursor": new["cursor"],
    }
    both = http.get(
        "/api/v1/scalars", params={"task": [task["id"], other["id"]], "after": first["cursor"]}
    ).json()
    assert both["tasks"][task["id"]]["metrics"]["loss"]["train"]["x"] == [3, 4]
    assert both["tasks"][other["id"]]["metrics"]["loss"]["train"]["x"] == [0]
    assert both["cursor"] == max(t["cursor"] for t in both["tasks"].values())
    assert http.get(url, params={"after": -1}).status_code == 400


def legend_labels(page: Page, chart: str) -> list[str]:
    card = page.locator(f'.chart-card[data-chart-key="{chart}"]')
    return card.locator(".u-legend .u-series:not(.raw-series) .u-label").all_inner_texts()


def test_the_tab_charts_each_metric_and_keeps_its_options_in_the_url(
    page: Page, http: httpx.Client
) -> None:
    task = scalar_task(http)
    page.goto(f"/experiments/{task['id']}/scalars")
    loss = page.locator('.chart-card[data-chart-key="loss"]')
    expect(loss.locator("canvas")).to_have_count(1)
    expect(page.locator(".chart-card")).to_have_count(2)  # loss, accuracy; no "Summary"
    expect(loss).to_have_attribute("data-points", "8")
    assert legend_labels(page, "loss") == ["Iteration", "train", "val"]
    assert legend_labels(page, "accuracy") == ["Iteration", "val"]
    expect(page.locator('tr[data-metric="loss"][data-variant="train"] td.min')).to_have_text("0.3")
    screenshot(page, "scalars-tab")

    # Hovering shows the values under the cursor in the legend.
    box = loss.locator(".u-over").bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    expect(loss.locator(".u-legend .u-series").nth(0).locator(".u-value")).to_have_text("4")

    page.locator('input[name="smooth"]').fill("0.6")
    page.locator('select[name="x"]').select_option("rel")
    expect(page).to_have_url(re.compile(r"smooth=0\.60"))
    expect(page).to_have_url(re.compile(r"x=rel"))
    page.reload()
    expect(page.locator('input[name="smooth"]')).to_have_value("0.6")
    expect(page.locator(".smooth-value")).to_have_text("0.60")
    expect(page.locator('select[name="x"]')).to_have_value("rel")
    expect(loss.locator("canvas")).to_have_count(1)
    expect(loss.locator(".u-legend .u-series").nth(0).locator(".u-label")).to_have_text("Time")
    screenshot(page, "scalars-tab-smoothed-relative-time")

    page.locator('select[name="x"]').select_option("wall")
    expect(page).to_have_url(re.compile(r"x=wall"))
    expect(loss.locator(".u-legend .u-series").nth(0).locator(".u-label")).to_have_text("Wall time")
    # Charts follow the window: on a narrower one each chart shrinks to its column.
    before = loss.locator("canvas").bounding_box()
    assert before
    page.set_viewport_size({"width": 1000, "height": 700})
    page.wait_for_function(
        """w => {
            const plot = document.querySelector('.chart-card .chart-plot');
            const canvas = plot.querySelector('canvas').getBoundingClientRect().width;
            return canvas < w - 100 && Math.abs(canvas - plot.clientWidth) < 2;
        }""",
        arg=before["width"],
    )


def test_a_running_task_s_charts_grow_with_new_points_only(page: Page, http: httpx.Client) -> None:
    task = create_task(http, project_name("live"), "live", status="running")
    post_points(http, task["id"], "loss", "train", list(range(10)))
    reads: list[str] = []
    page.on(
        "request",
        lambda r: reads.append(r.url) if f"/tasks/{task['id']}/scalars?" in r.url else None,
    )
    page.goto(f"/experiments/{task['id']}/scalars")
    loss = page.locator('.chart-card[data-chart-key="loss"]')
    expect(loss).to_have_attribute("data-points", "10")
    expect(page.locator("#scalar-charts")).to_have_attribute("data-live", "true")
    post_points(http, task["id"], "loss", "train", list(range(10, 25)))
    post_points(http, task["id"], "loss", "val", [0, 12, 24])
    expect(loss).to_have_attribute("data-points", "28", timeout=10_000)
    assert legend_labels(page, "loss") == ["Iteration", "train", "val"]
    expect(page.locator('tr[data-variant="train"] td.count')).to_have_text("25")
    polls = [parse_qs(urlparse(u).query) for u in reads[1:]]
    assert polls and all("after" in q for q in polls)  # only new points after the first read

    # The status turns final: one more read catches the last points, then polling stops.
    post_points(http, task["id"], "loss", "train", [25])
    ended = http.patch(f"/api/v1/tasks/{task['id']}", json={"status": "completed"})
    assert ended.status_code == 200, ended.text
    expect(page.locator("#task-status")).to_have_attribute("data-status", "completed")
    expect(loss).to_have_attribute("data-points", "29", timeout=10_000)
    expect(page.locator("#scalar-charts")).to_have_attribute("data-live", "false")


def test_a_million_point_series_charts_from_a_downsampled_read(
    page: Page, http: httpx.Client
) -> None:
    task = create_task(http, project_name("million"), "million", status="completed")
    its = np.arange(1_000_000, dtype=np.int64)
    values = np.sin(its / 5000.0) + (its == 777_777) * 5.0  # one spike that must survive
    stamps = 1.7e9 + its * 0.01
    for part in np.array_split(np.arange(len(its)), 4):
        frame = encode_frame(
            uuid.uuid4().hex,
            [
                {
                    "metric": "loss",
                    "variant": "train",
                    "iterations": its[part].tobytes(),
                    "values": values[part].tobytes(),
                    "timestamps": stamps[part].tobytes(),
                }
            ],
        )
        answer = http.post(
            f"/api/v1/tasks/{task['id']}/scalars/frame",
            content=frame,
            headers={"Content-Type": FRAME_CONTENT_TYPE},
        )
        assert answer.status_code == 200, answer.text
    reads: list[Request] = []
    page.on("request", lambda r: reads.append(r) if "/scalars?" in r.url else None)
    page.goto(f"/experiments/{task['id']}/scalars")
    loss = page.locator('.chart-card[data-chart-key="loss"]')
    expect(loss.locator("canvas")).to_have_count(1)
    expect(loss).to_have_attribute("data-downsampled", "true")
    assert int(loss.get_attribute("data-points") or 0) <= 2000
    assert reads and all(parse_qs(urlparse(r.url).query)["max_points"] == ["2000"] for r in reads)
    # The chart reads the binary frame, not JSON.
    answer = reads[0].response()
    assert answer is not None and answer.headers["content-type"] == FRAME_CONTENT_TYPE
    header, columns = decode_read_frame(answer.body())
    (series,) = header["series"]
    ((its_read, values_read, _),) = columns
    assert (series["metric"], series["total"]) == ("loss", 1_000_000)
    assert len(its_read) <= 2000
    assert max(values_read) == values.max() > 3.9  # the one-point spike survived
    expect(page.locator('tr[data-variant="train"] td.count')).to_have_text("1000000")
    expect(page.locator('tr[data-variant="train"] td.max')).to_have_text(f"{values.max():.6g}")
    screenshot(page, "scalars-tab-1m-points")


def test_the_compare_page_overlays_each_experiment_s_curve(page: Page, http: httpx.Client) -> None:
    project = project_name("overlay")
    first = create_task(http, project, "first run", status="completed")
    second = create_task(http, project, "second run", status="completed")
    report_scalars(http, first["id"], "loss", "train", [1.0, 0.5, 0.25])
    report_scalars(http, second["id"], "loss", "train", [0.9, 0.6, 0.3, 0.2])
    report_scalars(http, second["id"], "accuracy", "val", [0.5, 0.7])
    page.goto(f"/compare?ids={first['id']},{second['id']}")
    overlay = page.locator("#compare-charts")
    loss = overlay.locator('.chart-card[data-chart-key="loss / train"]')
    expect(loss.locator("canvas")).to_have_count(1)
    expect(loss).to_have_attribute("data-points", "7")
    assert legend_labels(page, "loss / train") == ["Iteration", "first run", "second run"]
    assert legend_labels(page, "accuracy / val") == ["Iteration", "second run"]
    overlay.locator('input[name="smooth"]').fill("0.3")
    expect(page).to_have_url(re.compile(r"smooth=0\.30"))
    assert f"ids={first['id']},{second['id']}" in page.url.replace("%2C", ",")
    overlay.scroll_into_view_if_needed()
    screenshot(page, "compare-scalars-overlay")

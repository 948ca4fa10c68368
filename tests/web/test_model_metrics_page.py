"""A model's page shows what the model reported of itself: single values, a small chart per
scalar series with its last, min and max, a line plot and a table (real Chromium)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.scripts import unique
from tests.web.conftest import screenshot


def test_the_model_page_shows_its_metrics(page: Page, http: httpx.Client) -> None:
    task = http.post("/api/v1/tasks", json={"project": unique("metrics"), "name": "t"}).json()
    model = http.post("/api/v1/models", json={"name": "net", "task_id": task["id"]}).json()
    empty = http.post("/api/v1/models", json={"name": "quiet", "task_id": task["id"]}).json()
    reports = [
        *(
            {"kind": "scalar", "title": "loss", "series": "val", "iteration": i, "value": v}
            for i, v in enumerate([0.9, 0.5, 0.25])
        ),
        {"kind": "single", "title": "Summary", "series": "accuracy", "value": 0.93},
        {"kind": "table", "title": "per class", "series": "val",
         "data": {"columns": ["class", "f1"], "rows": [["cat", 0.91], ["dog", 0.88]]}},
        {"kind": "line", "title": "roc", "series": "plot", "data": {"data": [
            {"type": "scatter", "name": "val", "x": [0, 0.1, 1], "y": [0, 0.7, 1]},
            {"type": "scatter", "name": "test", "x": [0, 0.2, 1], "y": [0, 0.6, 1]}]}},
    ]  # fmt: skip
    answer = http.post(f"/api/v1/models/{model['id']}/reports", json={"reports": reports})
    assert answer.status_code == 200 and answer.json() == {"stored": 6}

    page.goto(f"/models/{model['id']}")
    section = page.locator(".model-metrics")
    expect(section.locator(".model-single-values")).to_contain_text("accuracy")
    expect(section.locator(".model-single-values")).to_contain_text("0.93")
    row = section.locator(".model-scalars tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_have_text("loss / val")
    expect(row.locator("td").nth(1)).to_have_text("0.25")  # last
    expect(row.locator("td").nth(3)).to_have_text("0.9")  # max
    # The chart: three points drawn left to right, falling (SVG y grows downwards).
    points = row.locator("polyline").get_attribute("points") or ""
    xy = [tuple(float(n) for n in p.split(",")) for p in points.split()]
    assert len(xy) == 3 and xy[0][0] < xy[1][0] < xy[2][0] and xy[0][1] < xy[2][1]
    expect(section.locator(".model-line-plot polyline")).to_have_count(2)
    expect(section.locator(".model-line-plot")).to_contain_text("test")
    expect(section.locator(".model-table td").first).to_have_text("cat")
    screenshot(page, "model-metrics")

    page.goto(f"/models/{empty['id']}")
    expect(page.locator(".model-metrics")).to_contain_text("reported no metrics")

"""The Debug Samples tab in Chromium: the sliders change the image, a real WAV file plays in
the page, an HTML sample runs sandboxed (its script reaches neither the page's cookie nor
the API), images open full size with previous/next, and the compare page shows two
experiments' samples side by side."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name

# The HTML sample's script tries what a hostile page would and tells the parent what it got.
PROBE = """<!doctype html><html><body><p>probe</p><script>
(async () => {
  const result = {ran: true};
  try { result.cookie = document.cookie; } catch (e) { result.cookie_error = e.name; }
  try { result.parent = parent.document.cookie; } catch (e) { result.parent_error = e.name; }
  try {
    const answer = await fetch("/api/v1/tasks?page_size=1", {credentials: "include"});
    result.api_status = answer.status;
    result.api_body = (await answer.text()).slice(0, 50);
  } catch (e) { result.api_error = e.name; }
  parent.postMessage(result, "*");
})();
</script></body></html>"""


@pytest.fixture
def allowed_console_errors() -> list[str]:
    # The probe's fetch, refused by the sample's policy (Chromium logs the refusal).
    return [r"/api/v1/tasks\?page_size=1"]


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (value, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * t / 8000)) for t in range(8000))
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return buffer.getvalue()


def _report(
    http: httpx.Client, task: dict[str, Any], title: str, series: str, iteration: int,
    name: str, content: bytes, kind: str, mime: str,
) -> None:  # fmt: skip
    key = f"{task['project']['name']}/{task['name']}.{task['id']}/debug_samples/{name}"
    assert http.put(f"/api/v1/files/{key}", content=content).status_code == 201
    body = {"title": title, "series": series, "iteration": iteration, "kind": kind,
            "mime": mime, "uri": f"tunelab://{key}", "size": len(content)}  # fmt: skip
    answer = http.post(f"/api/v1/tasks/{task['id']}/debug_samples", json=body)
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def seeded(server: Any) -> dict[str, Any]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        http.get("/")
        http.headers["X-CSRF-Token"] = http.cookies["tunelab_csrf"]
        project = project_name("web-samples")
        first = create_task(http, project, "first")
        second = create_task(http, project, "second")
        for it, red in ((0, 10), (5, 120), (10, 250)):
            _report(http, first, "masks", "val", it, f"m{it}.png", _png(red), "image", "image/png")
        _report(http, first, "masks", "train", 5, "t5.png", _png(60), "image", "image/png")
        _report(http, first, "speech", "tone", 3, "tone.wav", _wav(), "audio", "audio/x-wav")
        _report(http, first, "pages", "probe", 0, "p.html", PROBE.encode(), "html", "text/html")
        _report(http, second, "masks", "val", 5, "s5.png", _png(200), "image", "image/png")
        return {"first": first, "second": second}


def _red(page: Page, selector: str) -> int:
    """The red of the image's top-left pixel, as the browser decoded it."""
    return int(
        page.eval_on_selector(
            selector,
            """img => { const c = document.createElement('canvas'); c.width = 1; c.height = 1;
              const g = c.getContext('2d'); g.drawImage(img, 0, 0);
              return g.getImageData(0, 0, 1, 1).data[0]; }""",
        )
    )


def _card(page: Page, series: str) -> str:
    return f".sample-card[data-title='masks'][data-series='{series}']"


def test_sliders_move_the_images(page: Page, seeded: dict[str, Any]) -> None:
    task_id = seeded["first"]["id"]
    page.goto(f"/experiments/{task_id}/debug_samples")
    val = _card(page, "val")
    expect(page.locator(f"{val} .sample-iteration")).to_have_text("10")
    page.wait_for_function(f'() => document.querySelector("{val} img").complete')
    assert _red(page, f"{val} img") == 250

    page.locator(f"{val} .sample-slider").fill("0")  # fires input
    expect(page.locator(f"{val} .sample-iteration")).to_have_text("0")
    page.wait_for_function(f'() => document.querySelector("{val} img").naturalWidth > 0')
    page.wait_for_function(f'() => document.querySelector("{val} img").complete')
    assert _red(page, f"{val} img") == 10

    # The global slider: every series at its newest sample at or before iteration 5.
    page.locator(".samples-global-slider").fill("2")  # iterations [0, 3, 5, 10] -> 5
    expect(page.locator(".samples-global-at")).to_have_text("5")
    expect(page.locator(f"{val} .sample-iteration")).to_have_text("5")
    expect(page.locator(f"{_card(page, 'train')} .sample-iteration")).to_have_text("5")
    page.wait_for_function(f'() => document.querySelector("{val} img").complete')
    assert _red(page, f"{val} img") == 120

    # Full size, then previous/next through the series' iterations.
    page.locator(f"{val} .sample-open").click()
    viewer = page.locator("dialog.sample-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".sample-viewer-at")).to_have_text("iteration 5")
    viewer.locator(".sample-next").click()
    expect(viewer.locator(".sample-viewer-at")).to_have_text("iteration 10")
    expect(viewer.locator(".sample-next")).to_be_disabled()
    page.wait_for_function("() => document.querySelector('.sample-viewer-image').complete")
    assert _red(page, ".sample-viewer-image") == 250
    viewer.locator(".sample-prev").click()
    expect(viewer.locator(".sample-viewer-at")).to_have_text("iteration 5")
    screenshot(page, "debug-samples-viewer")
    viewer.locator(".sample-close").click()
    expect(viewer).to_be_hidden()


def test_audio_plays_in_the_page(page: Page, seeded: dict[str, Any]) -> None:
    page.goto(f"/experiments/{seeded['first']['id']}/debug_samples")
    audio = page.locator(".sample-card[data-title='speech'] audio")
    expect(audio).to_have_count(1)
    page.wait_for_function(
        "() => document.querySelector(\".sample-card[data-title='speech'] audio\").readyState >= 1"
    )
    duration = audio.evaluate("a => a.duration")
    assert duration == pytest.approx(1.0, abs=0.05)
    audio.evaluate("async a => { a.muted = true; await a.play(); }")
    # Playing moves its clock; how soon depends on how busy the machine is.
    page.wait_for_function(
        "() => document.querySelector(\".sample-card[data-title='speech'] audio\").currentTime > 0"
    )


def test_html_sample_is_sandboxed(page: Page, seeded: dict[str, Any]) -> None:
    page.add_init_script(
        "window.__probe = []; addEventListener('message', e => window.__probe.push(e.data));"
    )
    page.goto(f"/experiments/{seeded['first']['id']}/debug_samples")
    frame = page.locator("iframe.sample-html")
    assert frame.get_attribute("sandbox") == "allow-scripts allow-popups"
    page.wait_for_function("() => window.__probe.length > 0")
    result = page.evaluate("window.__probe[0]")
    assert result["ran"] is True  # the sample's own script ran...
    assert "cookie" not in result and result["cookie_error"] == "SecurityError"
    assert "parent" not in result and result["parent_error"] == "SecurityError"
    assert "api_status" not in result and result["api_error"] == "TypeError"
    assert "tunelab_csrf" in page.evaluate("document.cookie")  # ...the page's cookie is there
    screenshot(page, "debug-samples-tab")


def test_sample_files_are_served_sandboxed(seeded: dict[str, Any], server: Any) -> None:
    task_id = seeded["first"]["id"]
    url = f"{server.url}/experiments/{task_id}/debug_samples/file"
    html = httpx.get(url, params={"title": "pages", "series": "probe"})
    assert html.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in html.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in html.headers["content-security-policy"]
    assert html.headers["x-frame-options"] == "SAMEORIGIN"  # the tab's iframe, nobody else's
    image = httpx.get(url, params={"title": "masks", "series": "val", "iteration": 0})
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-security-policy"].startswith("sandbox;")
    assert image.headers["x-frame-options"] == "DENY"
    missing = httpx.get(url, params={"title": "masks", "series": "val", "iteration": 7})
    assert missing.status_code == 404


def test_compare_shows_samples_side_by_side(page: Page, seeded: dict[str, Any]) -> None:
    first, second = seeded["first"]["id"], seeded["second"]["id"]
    page.goto(f"/compare?ids={first},{second}")
    page.get_by_role("link", name=re.compile("^Debug samples side by side")).click()
    expect(page.locator(".samples-column")).to_have_count(2)
    expect(page.locator("select[name=series]")).to_have_value("train")  # the first series
    page.locator("select[name=series]").select_option("val")
    expect(page).to_have_url(re.compile(r"series=val"))
    columns = page.locator(".samples-column")
    # masks/val at iteration 10 (the newest): the second reported only 5, shown as its newest.
    expect(columns.nth(0).locator(".sample-iteration")).to_have_text("10")
    expect(columns.nth(1).locator(".sample-iteration")).to_have_text("5")
    page.locator("select[name=iteration]").select_option("5")
    expect(page.locator(".samples-column").nth(0).locator(".sample-iteration")).to_have_text("5")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.samples-column img')].every(i => i.complete)"
    )
    assert _red(page, ".samples-column:nth-child(1) img") == 120
    assert _red(page, ".samples-column:nth-child(2) img") == 200
    page.locator("select[name=iteration]").select_option("0")
    expect(page.locator(".samples-column").nth(1).locator(".samples-none")).to_be_visible()
    screenshot(page, "debug-samples-compare")

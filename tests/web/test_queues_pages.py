"""The Queues and Workers pages: queues with their entries (reorder, remove), workers with
their current task and last heartbeat, unserved queues flagged, live refresh."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name

HX = {"HX-Request": "true"}


def a_queue(http: httpx.Client, prefix: str = "q") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    assert http.post("/api/v1/queues", json={"name": name}).status_code in (200, 201)
    return name


def a_worker(http: httpx.Client, queues: list[str]) -> str:
    worker = f"host:agent-{uuid.uuid4().hex[:6]}"
    body = {"id": worker, "queues": queues, "host": "gpu-box"}
    assert http.post("/api/v1/workers", json=body).status_code == 200
    return worker


def enqueued(http: httpx.Client, queue: str, names: list[str]) -> list[dict[str, Any]]:
    project = project_name("queued")
    made = []
    for name in names:
        task = create_task(http, project, name)
        answer = http.post(f"/api/v1/tasks/{task['id']}/enqueue", json={"queue": queue})
        assert answer.status_code == 200, answer.text
        made.append(task)
    return made


def line(http: httpx.Client, queue: str) -> list[str]:
    items = http.get(f"/api/v1/queues/{queue}/entries").json()["items"]
    return [item["task"]["name"] for item in items]


def row_of(html: str, marker: str) -> str:
    rows: list[str] = re.findall(r"<tr[^>]*>.*?</tr>", html, re.S)
    (row,) = [r for r in rows if marker in r]
    return row


def test_queues_page_counts_entries_names_workers_and_flags_unserved_queues(
    http: httpx.Client,
) -> None:
    served, idle = a_queue(http, "served"), a_queue(http, "idle")
    worker = a_worker(http, [served])
    enqueued(http, served, ["one", "two"])
    page = http.get("/queues")
    assert page.status_code == 200 and "<html" in page.text
    served_row = row_of(page.text, f'data-queue="{served}"')
    assert '<td class="num">2</td>' in served_row
    assert f'href="/workers#worker-{worker}"' in served_row
    assert "No worker serves" not in served_row
    idle_row = row_of(page.text, f'data-queue="{idle}"')
    assert '<td class="num">0</td>' in idle_row and "No worker serves this queue" in idle_row
    # The live refresh asks the same URL and gets only the list.
    fragment = http.get("/queues", headers=HX)
    assert (
        fragment.text.lstrip().startswith('<div id="queues-list"') and "<html" not in fragment.text
    )


def test_a_queue_page_reorders_and_removes_its_entries(http: httpx.Client) -> None:
    queue = a_queue(http)
    tasks = {t["name"]: t for t in enqueued(http, queue, ["a", "b", "c", "d"])}
    page = http.get(f"/queues/{queue}")
    assert page.status_code == 200
    assert re.findall(r'<td><a href="/experiments/[0-9a-f]+">(\w)</a></td>', page.text) == list(
        "abcd"
    )
    assert "No worker serves this queue" in page.text

    def move(name: str, to: str) -> httpx.Response:
        url = f"/queues/{queue}/entries/{tasks[name]['id']}/move"
        return http.post(url, data={"to": to}, headers=HX)

    for name, to, expected in (
        ("c", "top", "cabd"),
        ("d", "up", "cadb"),
        ("c", "down", "acdb"),
        ("a", "bottom", "cdba"),
        ("b", "down", "cdab"),
        ("c", "up", "cdab"),  # already first: nothing moves
        ("b", "down", "cdab"),  # already last
    ):
        answer = move(name, to)
        assert answer.status_code == 200, answer.text
        assert answer.text.lstrip().startswith('<div id="queue-entries"')
        assert "".join(line(http, queue)) == expected, (name, to)

    removed = http.post(f"/queues/{queue}/entries/{tasks['d']['id']}/remove", headers=HX)
    assert removed.status_code == 200
    assert '"tasks-changed": {"ids": ["' + tasks["d"]["id"] in removed.headers["HX-Trigger"]
    assert "".join(line(http, queue)) == "cab"
    assert http.get(f"/api/v1/tasks/{tasks['d']['id']}").json()["status"] == "draft"

    gone = move("d", "top")
    assert gone.status_code == 404 and gone.headers["HX-Retarget"] == "#toasts"
    assert "is not waiting in queue" in gone.text
    bad = move("a", "sideways")
    assert bad.status_code == 400 and "move to must be one of" in bad.text
    unknown = http.get(f"/queues/no-such-{uuid.uuid4().hex[:6]}")
    assert unknown.status_code == 404 and "no queue named" in unknown.text


def test_workers_page_shows_each_workers_task_queues_and_heartbeat(http: httpx.Client) -> None:
    queue = a_queue(http, "wq")
    worker = a_worker(http, [queue])
    idle = a_worker(http, [])
    (task,) = enqueued(http, queue, ["taken run"])
    taken = http.post(f"/api/v1/workers/{worker}/next", json={"timeout": 0})
    assert taken.status_code == 200 and taken.json()["task"]["id"] == task["id"], taken.text
    page = http.get("/workers")
    assert page.status_code == 200
    busy_row = row_of(page.text, f'id="worker-{worker}"')
    assert f'<a href="/experiments/{task["id"]}">taken run</a>' in busy_row
    assert f'href="/queues/{queue}"' in busy_row and "gpu-box" in busy_row
    assert "just now" in busy_row
    idle_row = row_of(page.text, f'id="worker-{idle}"')
    assert "idle" in idle_row and "none" in idle_row
    fragment = http.get("/workers", headers=HX)
    assert fragment.text.lstrip().startswith('<div id="workers-list"')


def test_a_queue_page_in_the_browser_reorders_by_keyboard_and_refreshes_live(
    page: Page, http: httpx.Client
) -> None:
    queue = a_queue(http, "live")
    a_worker(http, [queue])
    enqueued(http, queue, ["first", "second"])
    page.goto("/queues")
    row = page.locator(f'tr[data-queue="{queue}"]')
    expect(row.locator("td.num")).to_have_text("2")
    screenshot(page, "queues")
    row.get_by_role("link", name=queue).click()
    expect(page).to_have_url(f"/queues/{queue}")
    names = page.locator("#queue-entries tbody tr td:nth-child(2)")
    expect(names).to_have_text(["first", "second"])

    up = page.get_by_role("button", name="Move second up")
    up.focus()
    page.keyboard.press("Enter")
    expect(names).to_have_text(["second", "first"])
    # The list was replaced; the keyboard stays on the same row's controls.
    expect(page.get_by_role("button", name="Move second down")).to_be_focused()

    enqueued(http, queue, ["third"])  # elsewhere: the page shows it without a reload
    expect(names).to_have_text(["second", "first", "third"], timeout=10_000)
    screenshot(page, "queue-entries")

    page.get_by_role("button", name="Remove first from the queue").click()
    expect(page.locator(".toast").filter(has_text=f"Removed first from {queue}")).to_be_visible()
    expect(names).to_have_text(["second", "third"])
    page.goto("/workers")
    expect(page.get_by_role("heading", name="Workers")).to_be_visible()

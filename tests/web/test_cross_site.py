"""Another site's page cannot write to Tunelab through the browser, even to the server
without login (where anyone who reaches it may do everything).

A real page on another origin (``localhost:<port>``, a site other than ``127.0.0.1``) served
by a small HTTP server, opened in real Chromium, sends the writes a drive-by page could: a
plain form post to a page route and ``no-cors`` fetches to the API and the pages. Nothing
changes; the same writes from Tunelab's own pages (and from the SDK) still work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser

from tests.services import ServerProcess


@pytest.fixture
def other_site() -> Iterator[tuple[ThreadingHTTPServer, dict[str, str]]]:
    """An HTTP server on 127.0.0.1 answering every GET with the page in ``pages[path]``."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "<p>nothing</p>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, pages
    httpd.shutdown()
    httpd.server_close()


def test_another_sites_page_cannot_write_to_the_server_without_login(
    browser: Browser, server: ServerProcess, other_site: tuple[ThreadingHTTPServer, dict]
) -> None:
    httpd, pages = other_site
    target = server.url
    with httpx.Client(base_url=f"{target}/api/v1", timeout=30) as api:
        task = api.post("/tasks", json={"name": "victim", "project": "cross-site"}).json()
    task_id = task["id"]
    pages["/form"] = f"""
        <form id="f" method="post" action="{target}/experiments/{task_id}/delete">
          <input name="delete_artifacts" value="on"></form>
        <script>document.getElementById("f").submit()</script>"""
    pages["/fetch"] = "<p>fetching</p>"
    origin = f"http://localhost:{httpd.server_address[1]}"

    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"{origin}/form")
        tab.wait_for_load_state("load")
        refusal = tab.content()
        tab.goto(f"{origin}/fetch")
        statuses = tab.evaluate(
            """async ([target, id]) => {
                const sent = [
                    [`${target}/api/v1/tasks/${id}/archive`, "{}", "text/plain"],
                    [`${target}/api/v1/tasks/${id}/stop`, "", "text/plain"],
                    [`${target}/experiments/${id}/publish`, "x=1",
                     "application/x-www-form-urlencoded"],
                    [`${target}/api/v1/projects`, '{"name": "planted"}', "text/plain"],
                ];
                for (const [url, body, type] of sent) {
                    await fetch(url, {method: "POST", mode: "no-cors", body,
                                      headers: {"Content-Type": type}});
                }
                return sent.length;
            }""",
            [target, task_id],
        )
        assert statuses == 4
    finally:
        context.close()

    with httpx.Client(base_url=f"{target}/api/v1", timeout=30) as api:
        after = api.get(f"/tasks/{task_id}")
        assert after.status_code == 200, "the task was deleted by another site's form"
        assert after.json()["archived"] is False
        assert after.json()["status"] == task["status"]
        names = {p["name"] for p in api.get("/projects").json()["items"]}
        assert "planted" not in names
        # What the form post got back: the refusal, saying why.
        assert "cross-site" in refusal
        # The SDK and curl send no Sec-Fetch-Site: the same write works for them.
        assert api.post(f"/tasks/{task_id}/archive").status_code == 200


def test_a_page_write_needs_the_pages_own_token_on_the_server_without_login(
    server: ServerProcess,
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anyone:
        task = anyone.post("/api/v1/tasks", json={"name": "t", "project": "csrf-open"}).json()
        anyone.get("/")  # the CSRF cookie, as a browser would get it
        refused = anyone.post(f"/experiments/{task['id']}/archive")
        assert refused.status_code == 403
        assert anyone.get(f"/api/v1/tasks/{task['id']}").json()["archived"] is False
        token = anyone.cookies["tunelab_csrf"]
        ours = {"X-CSRF-Token": token, "HX-Request": "true"}
        done = anyone.post(f"/experiments/{task['id']}/archive", headers=ours)
        assert done.status_code == 200, done.text
        assert anyone.get(f"/api/v1/tasks/{task['id']}").json()["archived"] is True

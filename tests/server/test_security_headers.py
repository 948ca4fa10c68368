"""Every answer carries the headers that keep the browser on the users' side, and a user's
file is never a page of the server.

The page routes are read from the application itself (``tests.server.access_world``), so a
new page is checked the next time this runs: each GET page, asked by the admin as a browser
would and as htmx would, says ``nosniff``, refuses framing, keeps referrers on the site and
has a Content-Security-Policy whose scripts come only from the server's own files. Its HTML
answers say they are pages (``X-Tunelab-Page``, the only answers app.js swaps in); a file it
streams is an attachment in a sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server import access_world as aw
from tests.server.access_requests import fill_path, fill_query
from tests.server.access_world import World

PAGE_GETS = [r for r in aw.app_routes() if not r.api and r.method == "GET"]
BROWSER_DEFAULTS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> sources."""
    header = response.headers.get("content-security-policy", "")
    assert header, f"no Content-Security-Policy on {response.request.url}"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def header_problems(response: httpx.Response) -> list[str]:
    rules = policy(response)
    wanted = dict(BROWSER_DEFAULTS)
    if "sandbox" in rules and rules.get("frame-ancestors") == ["'self'"]:
        # A debug sample's file, framed by the server's own page only (the HTML sample's
        # sandboxed iframe), and in a sandbox of its own whatever it holds.
        wanted["x-frame-options"] = "SAMEORIGIN"
    problems = [
        f"{name}: {response.headers.get(name)!r}, wanted {value!r}"
        for name, value in wanted.items()
        if response.headers.get(name) != value
    ]
    if "sandbox" in rules:  # a user's file: nothing of it runs, whatever else it says
        return problems
    scripts = rules.get("script-src", rules.get("default-src"))
    if scripts is None or scripts != ["'self'"]:
        problems.append(f"scripts may come from {scripts}, wanted only 'self'")
    if rules.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors {rules.get('frame-ancestors')}, wanted 'none'")
    return problems


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Headers do not depend on the store: one world, on SQLite.
    with aw.running_world(tmp_path_factory.mktemp("headers-world")) as made:
        yield made


@pytest.fixture(scope="module")
def admin_pages(world: World) -> Iterator[httpx.Client]:
    web = aw.session_client(world.url, "root")
    yield web
    web.close()


def test_the_walk_finds_the_pages() -> None:
    paths = {r.path for r in PAGE_GETS}
    assert {"/", "/experiments", "/experiments/{task_id}/configuration"} <= paths
    assert len(PAGE_GETS) >= 30, f"only {len(PAGE_GETS)} page routes: the enumeration broke"


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
@pytest.mark.parametrize("route", PAGE_GETS, ids=[r.label for r in PAGE_GETS])
def test_every_page_carries_the_headers(
    route: aw.Route, htmx: bool, world: World, admin_pages: httpx.Client
) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    url = fill_path(world, "root", route)
    answer = admin_pages.get(url, params=fill_query(world, route), headers=headers)
    assert answer.status_code < 500, answer.text[:300]
    assert not header_problems(answer), (url, header_problems(answer))
    kind = answer.headers.get("content-type", "")
    if kind.startswith("text/html"):
        assert answer.headers.get("x-tunelab-page") == "1", url
    elif answer.status_code == 204:
        assert not answer.content, url  # nothing to show: only events for htmx (HX-Trigger)
    elif 200 <= answer.status_code < 300:
        # A file's bytes (artifact and model downloads): saved, never shown as a page.
        assert answer.headers["content-disposition"].startswith("attachment"), url
        assert "sandbox" in policy(answer), url
        assert "x-tunelab-page" not in answer.headers, url


def test_login_errors_and_the_api_carry_the_headers(world: World) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as anonymous:
        answers = [
            anonymous.get("/login"),
            anonymous.get("/experiments"),  # to the login page
            anonymous.get("/no-such-page"),
            anonymous.get("/api/v1/tasks"),  # 401, the JSON envelope
            anonymous.get("/api/v1/health"),
        ]
    for answer in answers:
        assert not header_problems(answer), (answer.request.url, header_problems(answer))


def test_the_api_documentation_allows_only_its_own_inline_script(world: World) -> None:
    with aw.api_client(world, world.keys["root"]) as root:
        answer = root.get("/api/v1/docs")
    assert answer.status_code == 200
    scripts = policy(answer)["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    hashes = [s for s in scripts if s.startswith("'sha256-")]
    assert len(hashes) == answer.text.count("<script>") >= 1
    assert policy(answer)["frame-ancestors"] == ["'none'"]


def test_an_uploaded_html_file_downloads_in_a_sandbox(world: World) -> None:
    page = b"<script>alert(document.cookie)</script><form hx-post='/admin/users'></form>"
    with aw.api_client(world, world.keys["root"]) as root:
        key = "samples/page.html"
        stored = root.put(f"/api/v1/files/{key}", content=page)
        assert stored.status_code == 201, stored.text
        for method in ("GET", "HEAD"):
            answer = root.request(method, f"/api/v1/files/{key}")
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "application/octet-stream"
            assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''page.html"
            assert "sandbox" in policy(answer)
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert "x-tunelab-page" not in answer.headers
            if method == "GET":
                assert answer.content == page

"""What the web tests share: the session's real server, the session's headless Chromium
(``tests/browser.py``), and a page that fails its test on any browser console error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.services import ServerProcess

# Screenshots of key pages, kept as test outputs (ignored by git).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


@pytest.fixture
def allowed_console_errors() -> list[str]:
    """Regexes of console errors a test expects (a 409 it provokes); any other fails it."""
    return []


@pytest.fixture
def page(
    browser: Browser, server: ServerProcess, allowed_console_errors: list[str]
) -> Iterator[Page]:
    """A fresh browser tab at 1280x800 whose relative URLs go to the session's server."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    yield tab
    context.close()
    unexpected = [e for e in errors if not any(re.search(p, e) for p in allowed_console_errors)]
    assert not unexpected, f"browser console errors: {unexpected}"


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    """httpx on the server's root: pages as HTML, the API under /api/v1. Like a browser, it
    holds the page's CSRF cookie and sends the token back with every request."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.get("/")
        client.headers["X-CSRF-Token"] = client.cookies["tunelab_csrf"]
        yield client


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``test-results/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""The test session's one headless Chromium, driven by Playwright.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/test``); Playwright only
drives it. The flags keep it off the network: it talks to 127.0.0.1 and nothing else.

One browser per test process, whichever test asks first: Playwright's sync API runs its
event loop in the main thread for as long as it is open, and a second ``sync_playwright()``
in the same process is refused while the first lives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()

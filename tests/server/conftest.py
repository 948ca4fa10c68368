"""What the API tests share: an HTTP client on the session's real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client(api_url: str) -> Iterator[httpx.Client]:
    """httpx on the real server's ``/api/v1``, as any HTTP client would talk to it."""
    with httpx.Client(base_url=f"{api_url}/api/v1", timeout=60) as http:
        yield http

"""Reading API answers in tests."""

from __future__ import annotations

from typing import Any

import httpx


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that must have ``status``; the body is shown when it has not."""
    assert response.status_code == status, response.text
    return response.json()

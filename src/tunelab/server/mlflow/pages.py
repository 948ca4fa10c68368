"""MLflow's page tokens: an opaque text the client passes back for the next page; here the
offset of that page, as base64 JSON (``{"offset": 1000}``)."""

from __future__ import annotations

import base64
import json

from tunelab.errors import InvalidInput


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str) -> int:
    """The offset a page token carries; 0 without one."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(f"Invalid page token {token!r}") from None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"Invalid page token {token!r}")
    return offset

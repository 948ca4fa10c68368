"""An htmx answer that says something: the ``HX-Trigger`` header app.js turns into a toast,
with any events the page's lists refresh on (``users-changed``)."""

from __future__ import annotations

import json
from typing import Any


def toast_headers(
    message: str, *, kind: str = "ok", events: tuple[str, ...] = ()
) -> dict[str, str]:
    trigger: dict[str, Any] = {event: True for event in events}
    trigger["toast"] = {"message": message, "kind": kind}
    # ensure_ascii (json's default): a key's name in any script stays a latin-1 header.
    return {"HX-Trigger": json.dumps(trigger)}

"""A request's whole body, gathered from its ASGI messages."""

from __future__ import annotations

from starlette.types import Receive


async def whole_body(receive: Receive) -> bytes | None:
    """Every chunk of the body joined, or None if the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)

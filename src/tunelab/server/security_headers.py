"""Headers that keep the browser from being turned against the server's users.

Every response says ``X-Content-Type-Options: nosniff`` (a file is never guessed into a
page), ``X-Frame-Options: DENY`` and ``Referrer-Policy: same-origin``, and carries a
Content-Security-Policy. The pages' policy runs scripts only from the server's own static
files: no inline script, no ``eval`` (htmx runs with ``allowEval`` off), so HTML that slips
into a page cannot run code. Styles may be inline: uPlot sizes and places its parts with
``style`` attributes.

A response that sets its own policy keeps it: user files (``user_file_headers``) are
attachments in a sandbox, never pages of the server's origin. The API documentation page
(Swagger UI, from its CDN) gets a policy that allows its one inline script by hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# A user's file rendered anyway (a browser ignoring the attachment) runs in a sandbox: an
# opaque origin without scripts, forms or the server's cookies.
USER_FILE_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
_CSP = b"content-security-policy"
_DOCS_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def user_file_headers(filename: str | None = None) -> dict[str, str]:
    """The headers of a response whose body is a user's file: a download, in a sandbox."""
    disposition = "attachment"
    if filename:
        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return {"Content-Disposition": disposition, "Content-Security-Policy": USER_FILE_POLICY}


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response; ``docs_path`` is the Swagger UI page."""

    def __init__(self, app: ASGIApp, docs_path: str | None = None) -> None:
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.docs_path and scope["path"] == self.docs_path:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_defaults(message.get("headers", []), PAGE_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The documentation page is small and made by the framework: hold it whole, and
        allow exactly the inline scripts it holds."""
        start: Message = {}
        body = bytearray()

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body"):
                    return
                start["headers"] = _with_defaults(
                    start.get("headers", []), _docs_policy(bytes(body))
                )
                await send(start)
                await send({"type": "http.response.body", "body": bytes(body)})
                return
            await send(message)

        await self.app(scope, receive, hold)


def _docs_policy(body: bytes) -> str:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(code).digest()).decode()}'"
        for code in _INLINE_SCRIPT.findall(body)
    )
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {_DOCS_CDN} {hashes}".rstrip(),
            f"style-src 'self' {_DOCS_CDN} 'unsafe-inline'",
            "img-src 'self' data: https://fastapi.tiangolo.com",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def _with_defaults(
    headers: Iterable[tuple[bytes, bytes]], policy: str
) -> list[tuple[bytes, bytes]]:
    result = list(headers)
    present = {name.lower() for name, _ in result}
    for name, value in ((_CSP, policy.encode()), *ALWAYS):
        if name not in present:
            result.append((name, value))
    return result

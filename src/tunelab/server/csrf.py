"""CSRF protection for the pages: a double-submit token.

Every page response carries a random ``tunelab_csrf`` cookie (set once, SameSite=Strict);
pages render the same value in ``<meta name="csrf-token">`` and app.js sends it as
``X-CSRF-Token`` with every htmx request. A page write whose header (or, for the login
form, whose ``csrf_token`` field) does not match the cookie is refused: another site can
make the browser send the cookie, but cannot read it to send it back.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "tunelab_csrf"
CSRF_HEADER = "x-csrf-token"


class CsrfCookieMiddleware:
    """Gives each browser its token: ``scope["state"]["csrf"]``, and the cookie if new."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/api/", "/static/")):
            await self.app(scope, receive, send)
            return
        token = _cookie(scope, CSRF_COOKIE)
        fresh = not token
        if fresh:
            token = secrets.token_urlsafe(24)
        scope.setdefault("state", {})["csrf"] = token

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{CSRF_COOKIE}={token}; Path=/; SameSite=Strict"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def token_matches(cookie: str | None, sent: str | None) -> bool:
    return bool(cookie) and bool(sent) and hmac.compare_digest(str(cookie), str(sent))


def _cookie(scope: Scope, name: str) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return str(v)
    return ""

"""Logging in and out of the web app: a session cookie (HttpOnly, SameSite=Lax) after a
password check (``server.password_check``: never inside a transaction), rate-limited per
name and address (``server.login_limiter``)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.server.auth import SESSION_COOKIE
from tunelab.server.csrf import CSRF_COOKIE, token_matches
from tunelab.server.db_gate import in_transaction
from tunelab.server.login_limiter import LoginLimiter
from tunelab.server.password_check import session_for
from tunelab.server.web.posted_form import PostedForm
from tunelab.server.web.templating import render
from tunelab.store import web_sessions

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", {"next": _safe_next(next), "error": "", "name": ""})


@router.post("/login", response_model=None)
async def log_in(request: Request, form: PostedForm) -> Response:
    name = str(form.get("name", ""))
    target = _safe_next(str(form.get("next", "/")))
    context: dict[str, Any] = {"next": target, "name": name}
    if not token_matches(request.cookies.get(CSRF_COOKIE), str(form.get("csrf_token", ""))):
        context["error"] = "This form is stale; please try again."
        return render(request, "login.html", context, status_code=403)
    limiter = _limiter(request)
    address = request.client.host if request.client else ""
    # Counted before the check, so parallel guesses get no more checks than the limit.
    wait = limiter.begin(name, address)
    if wait:
        context["error"] = (
            f"Too many failed attempts; try again in {math.ceil(wait / 60)} minute(s)."
        )
        headers = {"Retry-After": str(math.ceil(wait))}
        return render(request, "login.html", context, status_code=429, headers=headers)
    session = await session_for(request, name, str(form.get("password", "")))
    if session is None:
        context["error"] = "Wrong name or password."
        return render(request, "login.html", context, status_code=401)
    limiter.succeeded(name, address)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=web_sessions.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def log_out(request: Request, form: PostedForm) -> RedirectResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    sent = str(form.get("csrf_token", "")) or request.headers.get("x-csrf-token", "")
    if cookie and token_matches(request.cookies.get(CSRF_COOKIE), sent):
        await in_transaction(request, web_sessions.end_session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _limiter(request: Request) -> LoginLimiter:
    state = request.app.state
    if not hasattr(state, "login_limiter"):
        state.login_limiter = LoginLimiter()
    limiter: LoginLimiter = state.login_limiter
    return limiter


def _safe_next(target: str) -> str:
    """Only a path on this server: never another site (an open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target

"""My account: the signed-in account's API keys, made and revoked here.

A new key is in the answer that makes it and nowhere else, ever (the store keeps its
SHA-256). That answer is never cached, and its key box keeps htmx from saving the page in
its history cache (``hx-history="false"``), so neither a reload nor the back button brings
the key back. It is never in a URL: made by a POST, shown in its answer's body.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from tunelab.domain.access import Principal
from tunelab.errors import InvalidInput
from tunelab.server.api.deps import Conn, Who
from tunelab.server.web.action_form import Form
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.toasts import toast_headers
from tunelab.store import auth_tokens, users

router = APIRouter(include_in_schema=False)

# Pages that list keys are not kept by the browser: one may hold a key just made.
NO_STORE = {"Cache-Control": "no-store"}
MAX_KEY_NAME = 128
NO_ACCOUNT = (
    "no one is signed in: this server runs without login, and API keys belong to accounts; "
    "an admin makes one for an account on the Users page (/admin/users)"
)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, conn: Conn, who: Who) -> HTMLResponse:
    return _answer(request, _context(conn, who))


@router.post("/account/tokens", response_class=HTMLResponse)
def create_key(request: Request, conn: Conn, who: Who, form: Form) -> HTMLResponse:
    if who.user_id is None:
        raise InvalidInput(NO_ACCOUNT)
    record, token = auth_tokens.create_token(conn, who.user_id, key_name(form.get("name")))
    context = {**_context(conn, who), "new_key": {**record, "token": token}}
    return _answer(request, context)


@router.post("/account/tokens/{token_id}/revoke", response_model=None)
def revoke_key(token_id: str, request: Request, conn: Conn, who: Who) -> Response:
    """Revoke one of the account's keys (an admin: anyone's, as the API allows)."""
    mine_only = None if who.is_admin else who.user_id
    record = auth_tokens.revoke_token(conn, token_id, user_id=mine_only)
    if not is_htmx(request):
        return RedirectResponse("/account", status_code=303)
    said = toast_headers(f"Revoked the key {record['prefix']}…: it no longer works")
    return _answer(request, _context(conn, who), headers=said)


def key_name(value: str) -> str:
    name = value.strip()
    if len(name) > MAX_KEY_NAME:
        raise InvalidInput(f"a key's name is at most {MAX_KEY_NAME} characters")
    return name


def _context(conn: sa.Connection, who: Principal) -> dict[str, Any]:
    if who.user_id is None:
        return {"account": None, "keys": [], "new_key": None}
    return {
        "account": users.get_user(conn, who.user_id),
        "keys": auth_tokens.list_tokens(conn, who.user_id),
        "new_key": None,
    }


def _answer(
    request: Request, context: dict[str, Any], headers: dict[str, str] | None = None
) -> HTMLResponse:
    """The keys part for an htmx request, the whole page otherwise."""
    template = "account/_keys.html" if is_htmx(request) else "account/page.html"
    return render(request, template, context, headers={**NO_STORE, **(headers or {})})

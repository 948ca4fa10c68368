"""Every error the server returns goes through here: as ``{"error": {code, message, detail}}``
under ``/api``, as a page (or an htmx toast) saying the same elsewhere (``web.errors``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunelab.errors import TunelabError, error_body
from tunelab.server.authorize import LoginRequired
from tunelab.server.mlflow.envelope import error_response as mlflow_error_response
from tunelab.server.mlflow.envelope import is_mlflow_path
from tunelab.server.web.errors import error_page, wants_page

log = logging.getLogger("tunelab.server")

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(TunelabError, _tunelab_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def _respond(
    request: Request,
    body: dict[str, Any],
    status: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if is_mlflow_path(request.url.path):
        # The MLflow client parses MLflow's envelope, not Tunelab's.
        return mlflow_error_response(body, status)
    if wants_page(request):
        error = body["error"]
        return error_page(request, status, error["code"], error["message"])
    return JSONResponse(body, status_code=status, headers=headers)


async def _login_required(request: Request, exc: Exception) -> Response:
    """A page without a session goes to the login page, and comes back after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?{urlencode({'next': target})}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def _tunelab_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TunelabError)
    return _respond(request, exc.to_body(), exc.status)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(err) for err in exc.errors()]
    if any(p["type"] == "json_invalid" for p in problems):
        message = "the request body is not valid JSON"
    else:
        message = "; ".join(f"{p['where']}: {p['message']}" for p in problems[:5])
    return _respond(request, error_body("invalid_input", message, problems), 400)


def _describe(err: Any) -> dict[str, Any]:
    where = ".".join(str(part) for part in err.get("loc", ()))
    return {"where": where, "message": err.get("msg", ""), "type": err.get("type", "")}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such route: {request.method} {request.url.path}"
    return _respond(request, error_body(code, message), exc.status_code, exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    body = error_body("internal", "the server failed to handle this request; see its log")
    return _respond(request, body, 500)

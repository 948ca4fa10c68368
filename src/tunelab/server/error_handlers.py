"""Every error the server returns goes through here, as ``{"error": {code, message, detail}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunelab.errors import TunelabError, error_body

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
    app.add_exception_handler(TunelabError, _tunelab_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _tunelab_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TunelabError)
    return JSONResponse(exc.to_body(), status_code=exc.status)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe(err) for err in exc.errors()]
    if any(p["type"] == "json_invalid" for p in problems):
        message = "the request body is not valid JSON"
    else:
        message = "; ".join(f"{p['where']}: {p['message']}" for p in problems[:5])
    return JSONResponse(error_body("invalid_input", message, problems), status_code=400)


def _describe(err: Any) -> dict[str, Any]:
    where = ".".join(str(part) for part in err.get("loc", ()))
    return {"where": where, "message": err.get("msg", ""), "type": err.get("type", "")}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such route: {request.method} {request.url.path}"
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse(
        error_body("internal", "the server failed to handle this request; see its log"),
        status_code=500,
    )

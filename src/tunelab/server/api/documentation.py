"""The API's own documentation: the OpenAPI document and its interactive view.

Served as API routes behind the same gate as every other (``server.authorize``): on a
server that asks for login they need a key or a session like the rest of ``/api/v1``. The
route list is no secret (it is the published API), but one rule for the whole API is
simpler to trust than a list of exceptions; without login they are open like everything.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def interactive_docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} API")

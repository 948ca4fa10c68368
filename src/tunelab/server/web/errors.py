"""Errors on pages: a page that says what went wrong, or a toast for an htmx request.

The API keeps its JSON envelope (``server.error_handlers``); a page shows the same message
and code, so a refused edit reads the same in the browser as over the API.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from tunelab.server.web.templating import is_htmx, render

TITLES = {
    400: "That request could not be used",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Not possible in this state",
    413: "Too large",
    500: "Something went wrong on the server",
    502: "Storage failed",
}


def wants_page(request: Request) -> bool:
    """Everything outside the JSON API and its documentation is a page."""
    return not request.url.path.startswith("/api/")


def error_page(request: Request, status: int, code: str, message: str) -> HTMLResponse:
    context = {
        "status": status,
        "code": code,
        "message": message,
        "title": TITLES.get(status, "Something went wrong"),
    }
    if is_htmx(request):
        # Swapped into the toast area, whatever the request was aiming at.
        headers = {"HX-Retarget": "#toasts", "HX-Reswap": "beforeend"}
        return render(request, "_error_toast.html", context, status_code=status, headers=headers)
    return render(request, "error.html", context, status_code=status)

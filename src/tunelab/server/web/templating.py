"""Rendering pages: one Jinja2 environment per app, its filters, and ``render``.

Pages render whole for a plain request and render only their fragment for an htmx request
(``is_htmx``), so every fragment also has a stable URL that the back button returns to.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tunelab import __version__
from tunelab.domain import times
from tunelab.domain.launch import waiting_text
from tunelab.domain.lifecycle import allowed_actions
from tunelab.domain.path_names import segment
from tunelab.domain.resources import asked
from tunelab.domain.task import TaskStatus

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Every answer of a page route says it is one; app.js swaps nothing else into a page (a
# user's file reached by a crafted URL is not a fragment, whatever HTML it holds).
PAGE_HEADER = "X-Tunelab-Page"

# Statuses after which a task changes no more on its own: pages stop polling there.
FINAL_STATUSES = frozenset({"draft", "completed", "failed", "stopped", "published"})


def create_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    env = templates.env
    env.filters.update(
        when=when,
        stamp=stamp,
        duration=duration,
        size=size,
        num=num,
        ago_title=stamp,
        segment=segment,
        launch_waiting=waiting_text,
    )
    # `value is asked`: a resource field that asks something (0 GPUs does; None, "", False not).
    env.tests["asked"] = asked
    env.globals.update(
        static=static_url,
        version=__version__,
        statuses=[s.value for s in TaskStatus],
        allowed_actions=menu_actions,
        final_statuses=FINAL_STATUSES,
        principal=lambda request: getattr(request.state, "principal", None),
    )
    return templates


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    marked = {**(headers or {}), PAGE_HEADER: "1"}
    return templates.TemplateResponse(
        request, template, context or {}, status_code=status_code, headers=marked
    )


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (not a history restore, which wants the page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def static_url(path: str) -> str:
    # The version in the query: a new release is never served a stale cached script.
    return f"/static/{path}?v={__version__}"


def menu_actions(task: dict[str, Any]) -> list[str]:
    """The actions a task summary's status allows, for ``data-actions`` on its row."""
    return allowed_actions(TaskStatus(task["status"]), archived=bool(task.get("archived")))


# What a filter shows for a stored value it cannot render (a time past year 9999, a NaN
# duration): the API refuses such values, but a page never fails on what the store holds.
INVALID = "invalid"


def _local_time(ts: Any) -> dt.datetime | None:
    """``ts`` (epoch seconds) in the server's local time; None when no calendar has it."""
    try:
        return dt.datetime.fromtimestamp(float(ts))
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def stamp(ts: float | None) -> str:
    """``2026-11-22 10:31:02`` in the server's local time; empty for no time."""
    if ts is None:
        return ""
    local = _local_time(ts)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else INVALID


def when(ts: float | None, now: float | None = None) -> str:
    """How long ago: ``just now``, ``5 min ago``, ``3 h ago``, then the date."""
    if ts is None:
        return ""
    local = _local_time(ts)
    if local is None:
        return INVALID
    seconds = (now if now is not None else dt.datetime.now().timestamp()) - float(ts)
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    return local.strftime("%Y-%m-%d")


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if seconds is None or seconds < 0:
        return ""
    if not isinstance(seconds, int | float) or not seconds <= times.LATEST:
        return INVALID  # NaN, infinite, or longer than any two recorded times apart
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def size(n: int | None) -> str:
    """Bytes for people: ``812 B``, ``3.4 kB``, ``66.0 MB`` (powers of 1000, as disks are sold)."""
    if n is None:
        return ""
    if not isinstance(n, int | float) or not 0 <= n < 1e300:
        return INVALID
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def num(value: Any) -> str:
    """A metric value, short and exact enough to rank by: six significant digits."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"

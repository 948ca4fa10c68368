"""The clone modal's project picker: projects whose name holds what was typed, and
"Create New" for a name no project has yet (the clone creates it)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.errors import InvalidInput
from tunelab.server.api.deps import Conn
from tunelab.server.web.templating import is_htmx, render
from tunelab.store.projects import project_id_by_name, validate_path
from tunelab.store.schema import projects

router = APIRouter(include_in_schema=False)

# Enough to pick from while typing; typing more narrows it.
MAX_OPTIONS = 12


@router.get("/project-picker", response_class=HTMLResponse)
def project_picker(request: Request, conn: Conn, q: str = "", project: str = "") -> HTMLResponse:
    """``q`` is what was typed (``project`` too: the clone form's field sends its own name)."""
    term = (q or project).strip()
    names = matching_projects(conn, term)
    # "Create New" for a name no project has, not even in another case: "Vision" next to
    # "vision" is more likely a typo than a wish.
    folded = term.casefold()
    exists = any(n.casefold() == folded for n in names) or (
        bool(term) and project_id_by_name(conn, term) is not None
    )
    problem = ""
    if term and not exists:
        try:
            validate_path(term)
        except InvalidInput as exc:
            problem = exc.message
    context = {"term": term, "names": names, "create": bool(term) and not exists and not problem}
    context["problem"] = problem
    if is_htmx(request):
        return render(request, "actions/_project_options.html", context)
    page = {**context, "body": "actions/_project_options.html", "title": "Projects"}
    return render(request, "actions/page.html", page)


def matching_projects(conn: sa.Connection, term: str) -> list[str]:
    """Names holding ``term`` (any case), those starting with it first, then by name."""
    name = projects.c.name
    query = sa.select(name).limit(MAX_OPTIONS)
    if term:
        starts = sa.case(
            (sa.func.lower(name).startswith(term.lower(), autoescape=True), 0), else_=1
        )
        query = query.where(name.icontains(term, autoescape=True)).order_by(starts, name)
    else:
        query = query.order_by(name)
    return list(conn.execute(query).scalars())

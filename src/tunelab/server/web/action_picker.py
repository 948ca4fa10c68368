"""The clone modal's project picker: projects whose name holds what was typed, and
"Create New" for a name no project has yet (the clone creates it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.errors import InvalidInput
from tunelab.server.api.deps import Conn
from tunelab.server.web.templating import is_htmx, render
from tunelab.server.web.visibility import visible_projects
from tunelab.store.projects import matching_names, project_id_by_name, validate_path

router = APIRouter(include_in_schema=False)

# Enough to pick from while typing; typing more narrows it.
MAX_OPTIONS = 12


@router.get("/project-picker", response_class=HTMLResponse)
def project_picker(request: Request, conn: Conn, q: str = "", project: str = "") -> HTMLResponse:
    """``q`` is what was typed (``project`` too: the clone form's field sends its own name)."""
    term = (q or project).strip()
    names = matching_names(conn, term, MAX_OPTIONS, visible_projects(request, conn))
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

"""The Dashboard (``/``: recent projects, recent experiments) and the Projects page
(``/projects``: a card per project, nested under its parent, with counts by status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tunelab.domain.task import TaskStatus
from tunelab.server.api.deps import Conn
from tunelab.server.web.templating import render
from tunelab.server.web.visibility import visible_projects
from tunelab.store import task_listing
from tunelab.store.projects import ancestors_and_self, list_projects
from tunelab.store.task_listing import TaskQuery

router = APIRouter(include_in_schema=False)

RECENT_PROJECTS = 6
RECENT_EXPERIMENTS = 10


@dataclass
class ProjectCard:
    """A project with its sub-projects' cards and its (sub-tree) task counts by status."""

    project: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    children: list[ProjectCard] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        name: str = self.project["name"]
        return name.rsplit("/", 1)[-1]

    @property
    def status_counts(self) -> list[tuple[str, int]]:
        """Non-zero counts, in the order statuses go (draft ... published)."""
        return [(s.value, self.counts[s.value]) for s in TaskStatus if self.counts.get(s.value)]


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, conn: Conn) -> HTMLResponse:
    visible = visible_projects(request, conn)
    cards = {card.project["id"]: card for card in _cards(conn, visible)}
    recent = task_listing.recently_updated_projects(conn, RECENT_PROJECTS)
    # Projects with no recent task changes fill the rest, newest first.
    rest = sorted(cards.values(), key=lambda c: -c.project["last_update"])
    recent += [c.project["id"] for c in rest if c.project["id"] not in recent]
    experiments = task_listing.list_tasks(
        conn,
        TaskQuery(order_by="-last_update", page_size=RECENT_EXPERIMENTS, visible=visible),
    )
    context = {
        "projects": [cards[i] for i in recent[:RECENT_PROJECTS] if i in cards],
        "project_total": len(cards),
        "experiments": experiments["items"],
    }
    return render(request, "dashboard.html", context)


@router.get("/projects", response_class=HTMLResponse)
def projects_page(request: Request, conn: Conn) -> HTMLResponse:
    cards = _cards(conn, visible_projects(request, conn))
    names = {c.project["name"] for c in cards}
    roots = [c for c in cards if c.project["name"].rpartition("/")[0] not in names]
    total = sum(c.project["task_count"] for c in roots)
    all_counts: dict[str, int] = {}
    for card in roots:
        for status, count in card.counts.items():
            all_counts[status] = all_counts.get(status, 0) + count
    everything = ProjectCard({"name": "All projects", "task_count": total}, all_counts)
    return render(request, "projects.html", {"roots": roots, "everything": everything})


def _cards(conn: sa.Connection, visible: tuple[str, ...] | None) -> list[ProjectCard]:
    """Every project's card, by name, children linked under their parents, each counting
    the non-archived tasks of its whole sub-tree by status."""
    cards = [ProjectCard(p) for p in list_projects(conn, visible=visible)]
    by_name = {c.project["name"]: c for c in cards}
    names = {c.project["id"]: c.project["name"] for c in cards}
    for project_id, counts in task_listing.status_counts(conn).items():
        if project_id not in names:
            continue  # a project this account may not see
        for name in ancestors_and_self(names[project_id]):
            card = by_name.get(name)
            if card is None:
                continue
            for status, count in counts.items():
                card.counts[status] = card.counts.get(status, 0) + count
    for card in cards:
        parent, _, _ = card.project["name"].rpartition("/")
        if parent in by_name:
            by_name[parent].children.append(card)
    return cards

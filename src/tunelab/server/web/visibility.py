"""What the signed-in account may see, for pages that list or gather experiments whose
projects their URL does not name (the gate checks the ones it does: ``server.authorize``)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from fastapi import Request

from tunelab.server import access
from tunelab.server.authorize import current_principal


def visible_projects(request: Request, conn: sa.Connection) -> tuple[str, ...] | None:
    """Project ids whose experiments the account may list; None for every project."""
    return access.visible_projects(conn, current_principal(request))


def require_readable(request: Request, conn: sa.Connection, task_ids: Iterable[str]) -> None:
    who = current_principal(request)
    for task_id in task_ids:
        access.require_task(conn, who, task_id, access.READ)

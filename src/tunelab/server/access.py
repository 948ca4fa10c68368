"""What a Principal may touch: read or write a task, a model, a project; which projects it
sees in lists. The rules are ``tunelab.domain.access``; this module looks up the projects."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tunelab.domain.access import Principal, Role, UserKind
from tunelab.errors import Forbidden, NotFound
from tunelab.store import project_roles
from tunelab.store.projects import ancestors_and_self
from tunelab.store.schema import models, projects, tasks, workers

READ = Role.VIEWER
WRITE = Role.EDITOR

# A file-store key holds its task as "<task name>.<task id>" (tunelab.sdk.task_outputs).
_TASK_IN_KEY = re.compile(r"\.([0-9a-f]{32})(?:/|$)")


def visible_projects(conn: sa.Connection, principal: Principal) -> tuple[str, ...] | None:
    """The ids of the projects whose contents the principal may list; None for all."""
    if principal.is_admin or principal.is_worker:
        return None
    assert principal.user_id is not None
    return tuple(project_roles.visible_project_ids(conn, principal.user_id))


def require_project(conn: sa.Connection, principal: Principal, name: str, need: Role) -> None:
    if principal.is_admin or (principal.is_worker and need is READ):
        return
    if principal.user_id is not None and principal.kind is UserKind.MEMBER:
        role = project_roles.role_on(conn, principal.user_id, name)
        if role is not None and role.allows(need):
            return
    raise Forbidden(f"{principal.name or 'this account'} may not {_verb(need)} project {name!r}")


def require_task(conn: sa.Connection, principal: Principal, task_id: str, need: Role) -> None:
    row = conn.execute(
        sa.select(projects.c.name, tasks.c.worker_id)
        .join(projects, projects.c.id == tasks.c.project_id)
        .where(tasks.c.id == task_id)
    ).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    if principal.is_worker and need is not READ:
        # A worker account writes only to the tasks its own workers run.
        if row.worker_id and _runs(conn, principal, row.worker_id):
            return
        raise Forbidden(f"worker {principal.name!r} may only change the tasks it runs")
    require_project(conn, principal, row.name, need)


def require_model(conn: sa.Connection, principal: Principal, model_id: str, need: Role) -> None:
    row = conn.execute(
        sa.select(projects.c.name)
        .join(models, models.c.project_id == projects.c.id)
        .where(models.c.id == model_id)
    ).first()
    if row is None:
        raise NotFound(f"no model with id {model_id!r}")
    require_project(conn, principal, row.name, need)


def require_project_id(
    conn: sa.Connection, principal: Principal, project_id: str, need: Role
) -> None:
    name = conn.execute(sa.select(projects.c.name).where(projects.c.id == project_id)).scalar()
    if name is None:
        raise NotFound(f"no project with id {project_id!r}")
    require_project(conn, principal, name, need)


def require_file_key(conn: sa.Connection, principal: Principal, key: str, need: Role) -> None:
    """A stored file belongs to the task its key names; a key naming none, to admins."""
    found = _TASK_IN_KEY.search(key)
    if found:
        require_task(conn, principal, found.group(1), need)
    elif not principal.is_admin:
        raise Forbidden("only an admin may touch files that belong to no task")


def require_create_in(conn: sa.Connection, principal: Principal, name: str) -> str | None:
    """Refuse unless the principal may put something in project ``name``. Answers the
    topmost project that putting it there creates (``a`` for a new ``a/b``), which the
    principal is to own (``grant_new_project``); None when nothing new is made for them."""
    if principal.is_admin:
        return None
    existing = conn.execute(
        sa.select(projects.c.name).where(projects.c.name.in_(ancestors_and_self(name)))
    ).scalars()
    nearest = max(existing, key=len, default=None)
    if principal.is_worker:
        raise Forbidden(f"worker {principal.name!r} may not create tasks or projects")
    if nearest == name:
        require_project(conn, principal, name, WRITE)
        return None
    if nearest is not None:
        require_project(conn, principal, nearest, WRITE)
    depth = 0 if nearest is None else nearest.count("/") + 1
    return "/".join(name.split("/")[: depth + 1])


def grant_new_project(conn: sa.Connection, principal: Principal, name: str) -> None:
    """Make the principal the owner of the project it just created."""
    project_id = conn.execute(sa.select(projects.c.id).where(projects.c.name == name)).scalar()
    if project_id is not None and principal.user_id is not None:
        project_roles.set_role(conn, project_id, principal.user_id, Role.OWNER)


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may manage accounts")


def require_worker_account(principal: Principal) -> None:
    if principal.is_admin or principal.is_worker:
        return
    raise Forbidden(
        "taking tasks from queues needs a worker account's API key "
        "(tunelab user create NAME --worker; tunelab token create --user NAME)"
    )


def _runs(conn: sa.Connection, principal: Principal, worker_id: str) -> bool:
    owner = conn.execute(sa.select(workers.c.user_id).where(workers.c.id == worker_id)).scalar()
    return owner is not None and owner == principal.user_id


def _verb(need: Role) -> str:
    return {Role.VIEWER: "read", Role.EDITOR: "change", Role.OWNER: "manage"}[need]

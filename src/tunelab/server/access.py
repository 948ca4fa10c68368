"""What a Principal may touch: read or write a task, a model, a project; which projects it
sees in lists. The rules are ``tunelab.domain.access``; this module looks up the projects.

A task's key (``Principal.task``) reads what its owner may read and writes only its own task:
its outputs, its files, its models, which go only into its task's project."""

from __future__ import annotations

import re

import sqlalchemy as sa

from tunelab.domain.access import LAUNCHING_TYPES, Principal, Role, UserKind
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
    if principal.reads_everything:
        return None
    if principal.user_id is None:  # a task key nobody owns: its own task only
        return ()
    return tuple(project_roles.visible_project_ids(conn, principal.user_id))


def require_project(conn: sa.Connection, principal: Principal, name: str, need: Role) -> None:
    if principal.task is not None and need is not READ:
        raise Forbidden(f"a task's key may not change project {name!r}")
    if principal.is_admin or (principal.reads_everything and need is READ):
        return
    if principal.user_id is not None and principal.kind is UserKind.MEMBER:
        role = project_roles.role_on(conn, principal.user_id, name)
        if role is not None and role.allows(need):
            return
    raise Forbidden(f"{principal.name or 'this account'} may not {_verb(need)} project {name!r}")


# Built once: a statement used again is found compiled by identity; building it per call
# costs SQLAlchemy a cache key, more than running it (every write to a task checks here).
_TASK_PROJECT = (
    sa.select(projects.c.name, projects.c.id, tasks.c.worker_id)
    .join(projects, projects.c.id == tasks.c.project_id)
    .where(tasks.c.id == sa.bindparam("task_id"))
)


def require_task(conn: sa.Connection, principal: Principal, task_id: str, need: Role) -> None:
    row = conn.execute(_TASK_PROJECT, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task with id {task_id!r}")
    if principal.task is not None:
        if task_id == principal.task.task_id:
            return
        if need is not READ:
            if principal.task.launches and row.id == principal.task.project_id:
                _require_owner(conn, principal, row.name)
                return
            raise Forbidden("a task's key writes only its own task")
    if principal.is_worker and need is not READ:
        # A worker account writes only to the tasks its own workers run.
        if row.worker_id and _runs(conn, principal, row.worker_id):
            return
        raise Forbidden(f"worker {principal.name!r} may only change the tasks it runs")
    require_project(conn, principal, row.name, need)


def worker_may_start(conn: sa.Connection, principal: Principal, task_id: str) -> bool:
    """Whether a worker account may start this task by its id (``tunelab agent execute
    --id``): a queued one, which it could take from its queue anyway, or a draft marked to
    run in the repository's CI (``git_run.runs_on == "ci"``), whose job runs with a worker
    account's key."""
    if not principal.is_worker:
        return False
    row = conn.execute(
        sa.select(tasks.c.status, tasks.c.git_run).where(tasks.c.id == task_id)
    ).first()
    if row is None:
        return False
    if row.status == "queued":
        return True
    git_run = row.git_run if isinstance(row.git_run, dict) else {}
    return row.status == "draft" and git_run.get("runs_on") == "ci"


def require_model(conn: sa.Connection, principal: Principal, model_id: str, need: Role) -> None:
    row = conn.execute(
        sa.select(projects.c.name, models.c.task_id)
        .join(models, models.c.project_id == projects.c.id)
        .where(models.c.id == model_id)
    ).first()
    if row is None:
        raise NotFound(f"no model with id {model_id!r}")
    if principal.task is not None and need is not READ:
        if row.task_id == principal.task.task_id:
            return
        raise Forbidden("a task's key changes only the models of its own task")
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


def task_in_key(key: str) -> str | None:
    """The id of the task a file-store key belongs to; None when it names none."""
    found = _TASK_IN_KEY.search(key)
    return found.group(1) if found else None


def require_create_in(conn: sa.Connection, principal: Principal, name: str) -> str | None:
    """Refuse unless the principal may put something in project ``name``. Answers the new
    top-level project that putting it there creates (``a`` for a new ``a/b``), which the
    principal is to own (``grant_new_project``); None when nothing new is theirs to own: a
    project made under an existing one inherits its roles, so an editor stays an editor."""
    if principal.is_admin:
        return None
    existing = conn.execute(
        sa.select(projects.c.name).where(projects.c.name.in_(ancestors_and_self(name)))
    ).scalars()
    nearest = max(existing, key=len, default=None)
    if principal.task is not None:
        if principal.task.launches and name == _project_name(conn, principal.task.project_id):
            _require_owner(conn, principal, name)
            return None
        raise Forbidden("a task's key may not create tasks or projects")
    if principal.is_worker:
        raise Forbidden(f"worker {principal.name!r} may not create tasks or projects")
    if nearest == name:
        require_project(conn, principal, name, WRITE)
        return None
    if nearest is not None:
        require_project(conn, principal, nearest, WRITE)
        return None
    return name.split("/")[0]


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


def require_type_change(
    conn: sa.Connection, principal: Principal, task_id: str, new_type: str | None
) -> None:
    """A task's key may not make its task an optimizer or controller: that type is what lets
    a key launch tasks, so only the person who enqueues the task decides it."""
    if principal.task is None or new_type not in LAUNCHING_TYPES:
        return
    current = conn.execute(sa.select(tasks.c.type).where(tasks.c.id == task_id)).scalar()
    if current != new_type:
        raise Forbidden(f"a task's key may not make its task of type {new_type!r}")


def _require_owner(conn: sa.Connection, principal: Principal, name: str) -> None:
    """A launching task's key changes its project's tasks only where its owner could."""
    if principal.user_id is None:
        raise Forbidden("a task nobody enqueued may launch no tasks")
    owner = Principal(principal.user_id, principal.name, principal.kind)
    if not owner.is_admin:
        require_project(conn, owner, name, WRITE)


def _runs(conn: sa.Connection, principal: Principal, worker_id: str) -> bool:
    owner = conn.execute(sa.select(workers.c.user_id).where(workers.c.id == worker_id)).scalar()
    return owner is not None and owner == principal.user_id


def _verb(need: Role) -> str:
    return {Role.VIEWER: "read", Role.EDITOR: "change", Role.OWNER: "manage"}[need]


def require_models_in(
    conn: sa.Connection, principal: Principal, name: str, task_id: str | None
) -> str | None:
    """Refuse unless the principal may register a model in project ``name`` (whatever task
    the model names). A worker account and a task's key put models only in the project of
    the task they write: ``task_id``'s, or the key's own. Answers what ``require_create_in``
    does."""
    if principal.is_admin:
        return None
    if principal.task is not None or principal.is_worker:
        if principal.task is not None:
            allowed = _project_name(conn, principal.task.project_id)
        elif task_id is not None:
            allowed = conn.execute(
                sa.select(projects.c.name)
                .join(tasks, tasks.c.project_id == projects.c.id)
                .where(tasks.c.id == task_id)
            ).scalar()
        else:
            allowed = None
        if allowed is None or name != allowed:
            raise Forbidden(
                f"{principal.name or 'this account'} may put models only in the project of "
                f"the task it runs, not in {name!r}"
            )
        return None
    return require_create_in(conn, principal, name)


def require_worker_id(conn: sa.Connection, principal: Principal, worker_id: str) -> None:
    """A worker id belongs to the account that registered it: no other account (admins
    excepted) may register it again, heartbeat for it, take tasks or leave as it."""
    if principal.is_admin:
        return
    owner = conn.execute(sa.select(workers.c.user_id).where(workers.c.id == worker_id)).scalar()
    if owner is not None and owner != principal.user_id:
        raise Forbidden(f"worker {worker_id!r} belongs to another account")


def _project_name(conn: sa.Connection, project_id: str) -> str | None:
    name: str | None = conn.execute(
        sa.select(projects.c.name).where(projects.c.id == project_id)
    ).scalar()
    return name

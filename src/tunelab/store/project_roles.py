"""Roles on projects: granted per (project, user), inherited by the projects under it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunelab.domain.access import Role, UserKind, strongest
from tunelab.errors import InvalidInput, enum_member
from tunelab.store.projects import ancestors_and_self, get_project
from tunelab.store.schema import project_roles, projects, users
from tunelab.store.users import user_by_name


def parse_role(value: Any) -> Role:
    return enum_member(Role, value, "role")


def member_by_name(conn: sa.Connection, name: str) -> dict[str, Any]:
    """The member account named: roles mean nothing to admins (they may do everything) and
    worker accounts (they read everything and write the tasks they run)."""
    user = user_by_name(conn, name)
    if user["kind"] != UserKind.MEMBER.value:
        raise InvalidInput(
            f"{name!r} is {'an admin' if user['kind'] == 'admin' else 'a worker account'}: "
            "roles on projects are for members (admins may do everything, worker accounts "
            "read everything and write the tasks they run)"
        )
    return user


def set_role(conn: sa.Connection, project_id: str, user_id: str, role: Role | None) -> None:
    """Grant ``role`` on the project (replacing any), or take the grant away with None."""
    get_project(conn, project_id)
    conn.execute(
        project_roles.delete().where(
            project_roles.c.project_id == project_id, project_roles.c.user_id == user_id
        )
    )
    if role is not None:
        conn.execute(
            project_roles.insert().values(project_id=project_id, user_id=user_id, role=role.value)
        )


def members(conn: sa.Connection, project_name: str) -> list[dict[str, Any]]:
    """Everyone with a role on the project, granted on it or on a project above it; each
    with the strongest role and where it was granted."""
    rows = conn.execute(
        sa.select(users.c.id, users.c.name, users.c.kind, project_roles.c.role, projects.c.name)
        .select_from(project_roles.join(users).join(projects))
        .where(projects.c.name.in_(ancestors_and_self(project_name)))
        .order_by(users.c.name)
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for user_id, name, kind, role, granted_on in rows:
        current = found.get(user_id)
        if current is None or Role(role).rank > Role(current["role"]).rank:
            found[user_id] = {
                "user_id": user_id,
                "name": name,
                "kind": kind,
                "role": role,
                "granted_on": granted_on,
            }
    return list(found.values())


def role_on(conn: sa.Connection, user_id: str, project_name: str) -> Role | None:
    """The user's strongest role on the project or any project above it."""
    rows = conn.execute(
        sa.select(project_roles.c.role)
        .join(projects, projects.c.id == project_roles.c.project_id)
        .where(
            project_roles.c.user_id == user_id,
            projects.c.name.in_(ancestors_and_self(project_name)),
        )
    ).scalars()
    return strongest([Role(r) for r in rows])


def visible_project_ids(conn: sa.Connection, user_id: str) -> list[str]:
    """Every project the user has a role on, directly or through a project above it."""
    granted = conn.execute(
        sa.select(projects.c.name)
        .join(project_roles, project_roles.c.project_id == projects.c.id)
        .where(project_roles.c.user_id == user_id)
    ).scalars()
    under = [
        sa.or_(projects.c.name == name, projects.c.name.startswith(name + "/", autoescape=True))
        for name in granted
    ]
    if not under:
        return []
    return list(conn.execute(sa.select(projects.c.id).where(sa.or_(*under))).scalars())

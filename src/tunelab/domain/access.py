"""Who may do what: accounts, roles on projects, and the rule that joins them. Pure.

    admin   every project, every account
    member  what their roles give: viewer (read) < editor (write) < owner (write, members)
    worker  an agent's account: reads, takes queued tasks, writes only the tasks it runs

A role on a project holds for every project under it (``vision`` covers ``vision/resnet``);
the strongest role along the path wins.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class UserKind(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    WORKER = "worker"


class Role(enum.StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}


@dataclass(frozen=True)
class TaskScope:
    """What a task's key is bound to: the one task it writes, the project it may put models
    in. It reads what its owner (the account that enqueued the task) may read."""

    task_id: str
    project_id: str
    # A task of type optimizer or controller: its code clones, edits, enqueues and stops
    # other tasks of its own project, as its owner could (``LAUNCHING_TYPES``).
    launches: bool = False


# The task types whose code launches other tasks (ClearML's optimizer and pipeline controller).
LAUNCHING_TYPES = frozenset({"optimizer", "controller"})


@dataclass(frozen=True)
class Principal:
    """The account a request acts for. ``open_access`` is the server without login (bound
    to 127.0.0.1 and no auth asked for): everyone may do everything, as an admin would.

    A task's key acts for its owner (``user_id``, ``kind``; None when nobody enqueued the
    task) with ``task`` set: the owner's reads, but writes to that task only, and never an
    admin's powers, whoever the owner is.
    """

    user_id: str | None
    name: str
    kind: UserKind
    open_access: bool = False
    task: TaskScope | None = None

    @property
    def is_admin(self) -> bool:
        return self.open_access or (self.kind is UserKind.ADMIN and self.task is None)

    @property
    def is_worker(self) -> bool:
        return self.kind is UserKind.WORKER and not self.open_access and self.task is None

    @property
    def reads_everything(self) -> bool:
        """Admins and worker accounts read every project; so does a task key of an admin's."""
        return self.open_access or self.kind in (UserKind.ADMIN, UserKind.WORKER)


# The server without login: unnamed, allowed everything.
OPEN = Principal(user_id=None, name="", kind=UserKind.ADMIN, open_access=True)


def strongest(roles: list[Role]) -> Role | None:
    return max(roles, key=lambda r: r.rank) if roles else None

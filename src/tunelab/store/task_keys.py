"""Task keys: the API key a task's code runs with, minted when a worker takes the task.

A key is bound to one task running on one worker. It is alive while that holds: once the
task ends, whichever way (the script or the agent records its end, it is stopped or reset,
its worker is lost or unregisters), or runs again elsewhere, the key answers 401. Nothing has
to revoke it on each of those paths; taking the task again replaces it. Only its SHA-256 is
kept, as for API keys (``store.auth_tokens``).

Example::

    key = mint(conn, task_id, "gpu1:agent-0", owner_id=enqueuer_id)   # given to the script
    found = key_for_token(conn, key)      # its task, project and owner while the task runs
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tunelab.domain.task import TaskStatus
from tunelab.store.auth_tokens import token_hash
from tunelab.store.lookup import now
from tunelab.store.schema import task_keys, tasks, users

# Told apart from an account's key (``tl_``) at a glance, in a log or a leaked environment.
TASK_KEY_PREFIX = "tlt_"


@dataclass(frozen=True)
class TaskKeyHolder:
    """What a live task key stands for."""

    task_id: str
    project_id: str
    owner: sa.Row[Any] | None  # the owner's ``users`` row; None: nobody's
    task_type: str = ""  # an optimizer's or pipeline controller's key launches tasks


def mint(conn: sa.Connection, task_id: str, worker_id: str, owner_id: str | None) -> str:
    """A new key for ``task_id`` running on ``worker_id``; the task's older keys, and those
    of tasks no longer running, are deleted. The key itself is not kept."""
    stale = sa.select(tasks.c.id).where(tasks.c.status != TaskStatus.RUNNING.value)
    conn.execute(
        task_keys.delete().where(
            sa.or_(task_keys.c.task_id == task_id, task_keys.c.task_id.in_(stale))
        )
    )
    token = TASK_KEY_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        task_keys.insert().values(
            token_hash=token_hash(token),
            task_id=task_id,
            worker_id=worker_id,
            owner_id=owner_id,
            created=now(),
        )
    )
    return token


def key_for_token(conn: sa.Connection, token: str) -> TaskKeyHolder | None:
    """The task a live key is for; None for any other key, and once the task has ended or
    runs on another worker, or its owner's account is disabled."""
    found = conn.execute(
        sa.select(task_keys.c.task_id, task_keys.c.owner_id, tasks.c.project_id, tasks.c.type)
        .join(tasks, tasks.c.id == task_keys.c.task_id)
        .where(
            task_keys.c.token_hash == token_hash(token),
            tasks.c.status == TaskStatus.RUNNING.value,
            tasks.c.worker_id == task_keys.c.worker_id,
        )
    ).first()
    if found is None:
        return None
    owner = None
    if found.owner_id is not None:
        owner = conn.execute(
            sa.select(users).where(users.c.id == found.owner_id, users.c.disabled == sa.false())
        ).first()
        if owner is None:
            return None
    return TaskKeyHolder(
        task_id=found.task_id, project_id=found.project_id, owner=owner, task_type=found.type
    )

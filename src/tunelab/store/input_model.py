"""A task's input model: the registered model it starts from, an input like its
hyperparameters (editable on a draft, or by the running task's own SDK with ``by_run``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tunelab.domain.lifecycle import Editable, editable_in, require_editable
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, NotFound
from tunelab.store.artifacts import require_id
from tunelab.store.lookup import now
from tunelab.store.models import lock_model
from tunelab.store.schema import models, tasks
from tunelab.store.tasks import get_task


def set_input_model(
    conn: sa.Connection, task_id: str, model_id: str | None, *, by_run: bool = False
) -> dict[str, Any]:
    """Make ``model_id`` (or none) the task's input model; answers the ``Task``."""
    require_id(task_id, "task")
    if model_id is not None:
        require_id(model_id, "model")
        known = conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first()
        if known is None:
            raise NotFound(f"no model with id {model_id!r}")
    # Conditional on the status, and taking the task's row lock before the model's: the
    # order every writer follows (``models.lock_model``).
    allowed = editable_in(Editable.INPUTS, by_run=by_run)
    touched = conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id, tasks.c.status.in_(sorted(s.value for s in allowed)))
        .values(input_model_id=model_id, last_update=now())
    )
    if touched.rowcount != 1:
        status = conn.execute(sa.select(tasks.c.status).where(tasks.c.id == task_id)).scalar()
        if status is None:
            raise NotFound(f"no task with id {task_id!r}")
        require_editable(Editable.INPUTS, TaskStatus(status), by_run=by_run)
        raise Conflict(f"the task's status changed to {status} meanwhile; try again")
    # Held until commit: a concurrent delete of the model waits, then sees it in use.
    if model_id is not None and not lock_model(conn, model_id):
        raise NotFound(f"no model with id {model_id!r} (it was deleted meanwhile)")
    return get_task(conn, task_id)

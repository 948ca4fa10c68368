"""The task lifecycle as rules: which status may follow which, what may be edited when,
and how clone and reset treat a task. Pure functions; the store enforces them atomically.

    draft ──enqueue──► queued ──taken──► running ──► completed ──publish──► published
      ▲                  │  └──stop──► stopped ◄──stop──┘   └──► failed
      └────dequeue───────┘
    reset: queued | completed | failed | stopped ──► draft (never published or running)
    reopen: completed | failed | stopped ──► running (its run goes on, what it logged kept)
"""

from __future__ import annotations

import enum

from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict

S = TaskStatus

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.DRAFT: frozenset({S.QUEUED, S.RUNNING}),
    S.QUEUED: frozenset({S.DRAFT, S.RUNNING, S.STOPPED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.STOPPED}),
    S.COMPLETED: frozenset({S.PUBLISHED, S.DRAFT}),
    S.FAILED: frozenset({S.DRAFT}),
    S.STOPPED: frozenset({S.PUBLISHED, S.DRAFT}),
    S.PUBLISHED: frozenset(),
}

# What each action needs, and the sentence that says so when the status refuses it.
_ACTION_NEEDS: dict[str, tuple[frozenset[TaskStatus], str]] = {
    "enqueue": (frozenset({S.DRAFT}), "only a draft can be enqueued; reset or clone it first"),
    "dequeue": (frozenset({S.QUEUED}), "only a queued task can be dequeued"),
    "start": (frozenset({S.DRAFT, S.QUEUED}), "only a draft or a queued task can be started"),
    "stop": (frozenset({S.QUEUED, S.RUNNING}), "only a queued or running task can be stopped"),
    "publish": (
        frozenset({S.COMPLETED, S.STOPPED}),
        "only a completed or stopped task can be published",
    ),
    "reset": (
        frozenset({S.DRAFT, S.QUEUED, S.COMPLETED, S.FAILED, S.STOPPED}),
        "a published task is read-only for good and a running one must be stopped first",
    ),
    "reopen": (
        frozenset({S.COMPLETED, S.FAILED, S.STOPPED}),
        "only a completed, failed or stopped task can be reopened; a published one is "
        "read-only for good",
    ),
    "archive": (
        frozenset({S.DRAFT, S.COMPLETED, S.FAILED, S.STOPPED, S.PUBLISHED}),
        "a queued or running task must be dequeued or stopped first",
    ),
    "delete": (
        frozenset({S.DRAFT, S.COMPLETED, S.FAILED, S.STOPPED}),
        "only drafts and archived tasks can be deleted; a published one never",
    ),
}


ACTIONS = frozenset(_ACTION_NEEDS)


def require_action(action: str, status: TaskStatus, *, archived: bool = False) -> None:
    """Raise Conflict when ``status`` does not allow ``action``, saying why."""
    allowed, why = _ACTION_NEEDS[action]
    if action == "delete":
        if status is S.DRAFT or (archived and status in allowed):
            return
    elif status in allowed:
        return
    raise Conflict(f"cannot {action} a {status.value} task: {why}", {"status": status.value})


def require_transition(current: TaskStatus, new: TaskStatus) -> None:
    if new is current or new in TRANSITIONS[current]:
        return
    raise Conflict(
        f"a {current.value} task cannot become {new.value}",
        {"status": current.value, "allowed": sorted(s.value for s in TRANSITIONS[current])},
    )


# What a plain status change (``PATCH /tasks/{id}``) may not do, and the action that does it
# instead: entering or leaving the queue keeps a queue entry in step, and going back to
# draft is a reset, which deletes the outputs.
_ENTERED_BY_ACTION: dict[TaskStatus, str] = {
    S.QUEUED: "enqueue it instead",
    S.DRAFT: "reset it (or dequeue a queued one) instead",
}
_LEFT_BY_ACTION: dict[TaskStatus, str] = {
    S.QUEUED: "dequeue, start or stop it instead",
}


def require_status_change(current: TaskStatus, new: TaskStatus) -> None:
    """A status set as a field: the transition table, minus what only an action may do.

    Running to completed, failed or stopped is how a run reports its end; setting the status
    it already has is allowed and changes nothing.
    """
    if new is current:
        return
    require_transition(current, new)
    why = _ENTERED_BY_ACTION.get(new) or _LEFT_BY_ACTION.get(current)
    if why:
        raise Conflict(
            f"a {current.value} task cannot become {new.value} by a status change: {why}",
            {"status": current.value},
        )


class Editable(enum.Enum):
    """Kinds of change, each with its own rule."""

    INPUTS = "inputs"  # execution, hyperparameters, configuration, input models, docker, output
    USER_PROPERTIES = "user properties"
    OUTPUTS = "outputs"  # artifacts and output models: what a run records, until published
    NAME = "name"  # in every status but published
    ANNOTATIONS = "annotations"  # tags, comment: always


def require_editable(kind: Editable, status: TaskStatus, *, by_run: bool = False) -> None:
    """Raise Conflict unless this kind of change is allowed in ``status``.

    ``by_run`` is the running script recording its own inputs (``Task.connect`` after
    ``Task.init``): allowed while the task runs, as a draft's editor is before.
    """
    if kind is Editable.ANNOTATIONS:
        return
    if kind is Editable.NAME:
        if status is not S.PUBLISHED:
            return
        raise Conflict(
            "cannot rename a published task: it is read-only for good (tags and the "
            "comment can still change)",
            {"status": status.value},
        )
    if kind in (Editable.USER_PROPERTIES, Editable.OUTPUTS):
        if status is not S.PUBLISHED:
            return
        raise Conflict(
            f"cannot edit the {kind.value} of a published task: it is read-only for good",
            {"status": status.value},
        )
    if status is S.DRAFT or (by_run and status is S.RUNNING):
        return
    raise Conflict(
        f"cannot edit the inputs of a {status.value} task: only a draft's inputs can be "
        "edited; reset it (unless published) or clone it to get an editable draft",
        {"status": status.value},
    )


def editable_in(kind: Editable, *, by_run: bool = False) -> frozenset[TaskStatus]:
    """The statuses ``require_editable`` allows, for a write conditional on the status."""
    allowed = set()
    for status in TaskStatus:
        try:
            require_editable(kind, status, by_run=by_run)
        except Conflict:
            continue
        allowed.add(status)
    return frozenset(allowed)


def clone_parent(source_id: str, source_parent: str | None, *, set_as_parent: bool) -> str:
    """The clone's parent: the source's parent, or the source when it has none or when asked."""
    if set_as_parent or not source_parent:
        return source_id
    return source_parent


def clone_name(source_name: str, name: str | None) -> str:
    return name if name else f"Clone Of {source_name}"


# The order a menu offers them in (the web app's row menu, its bulk bar).
MENU_ACTIONS = (
    "clone",
    "reset",
    "enqueue",
    "dequeue",
    "stop",
    "publish",
    "archive",
    "unarchive",
    "delete",
)


def allowed_actions(status: TaskStatus, *, archived: bool = False) -> list[str]:
    """The actions ``status`` allows, in menu order: what a menu offers, no more.

    Clone is always allowed; archive and unarchive follow ``archived``; a draft is not
    offered a reset, which would change nothing.
    """
    allowed = []
    for action in MENU_ACTIONS:
        if action == "reset" and status is S.DRAFT:
            continue
        if action == "clone":
            allowed.append(action)
        elif action == "unarchive":
            if archived:
                allowed.append(action)
        elif action == "archive" and archived:
            continue
        else:
            try:
                require_action(action, status, archived=archived)
            except Conflict:
                continue
            allowed.append(action)
    return allowed

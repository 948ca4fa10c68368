"""A task's capture warnings: what Tunelab could not record of a run, and why.

The SDK appends one whenever a hook of its own fails inside the user's script (an argparse
hook, the console capture, the diff of a huge repository that timed out…): the script goes
on, and the task says what is missing from its record. They are kept in the task's
``capture_warnings`` column, oldest first, at most ``MAX_KEPT``: the first failures say the
most (later ones are mostly their consequences), so those past the limit are only counted.
Reset forgets them with the rest of the run; a clone starts without.

Example::

    append_warnings(conn, task_id, [{"what": "the argparse arguments",
                                     "reason": "TypeError: boom", "time": 1.7e9}])
    read_warnings(row.capture_warnings)   # ([{"what": ..., "reason": ..., "time": ...}], 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from tunelab.errors import InvalidInput
from tunelab.store.artifacts import check_text, lock_outputs
from tunelab.store.lookup import now
from tunelab.store.schema import tasks

MAX_KEPT = 100
MAX_PER_CALL = 100
MAX_WHAT_LENGTH = 512
MAX_REASON_LENGTH = 4000

Warning_ = dict[str, Any]


def append_warnings(
    conn: sa.Connection, task_id: str, warnings: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Add ``warnings`` to the task's; answers ``{"capture_warnings": [...], "dropped": n}``.

    Allowed while the task may gain outputs (every status but published)."""
    if len(warnings) > MAX_PER_CALL:
        raise InvalidInput(f"at most {MAX_PER_CALL} capture warnings per call")
    given = [_checked(w) for w in warnings]
    lock_outputs(conn, task_id)  # also the row's lock: two appends never lose one another
    stored = conn.execute(sa.select(tasks.c.capture_warnings).where(tasks.c.id == task_id))
    kept, dropped = read_warnings(stored.scalar_one())
    room = max(MAX_KEPT - len(kept), 0)
    kept += given[:room]
    dropped += len(given) - len(given[:room])
    value = {"items": kept, "dropped": dropped}
    conn.execute(tasks.update().where(tasks.c.id == task_id).values(capture_warnings=value))
    return {"capture_warnings": kept, "dropped": dropped}


def read_warnings(stored: Any) -> tuple[list[Warning_], int]:
    """The warnings and the number dropped, from the column's value (NULL: none)."""
    if not isinstance(stored, Mapping):
        return [], 0
    items = [dict(w) for w in stored.get("items") or [] if isinstance(w, Mapping)]
    return items, int(stored.get("dropped") or 0)


def _checked(warning: Mapping[str, Any]) -> Warning_:
    if not isinstance(warning, Mapping):
        raise InvalidInput("a capture warning is an object with what, reason and time")
    what = check_text(warning.get("what", ""), "what", MAX_WHAT_LENGTH).strip()
    if not what:
        raise InvalidInput("a capture warning says what could not be captured")
    # A long traceback is cut, not refused: the warning matters more than its tail.
    reason = check_text(warning.get("reason", ""), "reason", 1 << 20)[:MAX_REASON_LENGTH]
    when = warning.get("time")
    if when is None:
        when = now()
    if isinstance(when, bool) or not isinstance(when, (int, float)) or not 0 <= when < 1e11:
        raise InvalidInput("a capture warning's time is seconds since the epoch")
    # PostgreSQL refuses NUL in text: a reason quoting binary output keeps the rest.
    return {"what": _no_nul(what), "reason": _no_nul(reason), "time": float(when)}


def _no_nul(text: str) -> str:
    return text.replace("\x00", "\N{REPLACEMENT CHARACTER}")

"""The cursor of a task listing: where the next page starts, whatever page it is.

A sorted listing is laid out in parts (tasks with the sort value, then those without; for a
hyperparameter, numbers before text), each ordered by (value, id). The cursor holds the
last row's part, value and id, so the next page is "the rows after these" in the part's index
order: page 1,000 reads as few rows as page 1, where an OFFSET reads every row before it.

It travels as an opaque URL-safe string; it also holds the sort it was made for, and a
cursor of another sort is refused rather than read wrongly.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from tunelab.errors import InvalidInput

MAX_CURSOR = 4096
INT64 = 2**63 - 1


@dataclass(frozen=True)
class Cursor:
    order_by: str
    part: int
    value: float | str | None
    task_id: str

    def encode(self) -> str:
        raw = json.dumps([self.order_by, self.part, self.value, self.task_id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str, order_by: str) -> Cursor:
    """The cursor ``text`` names, made for ``order_by``; anything else is refused."""
    if len(text) > MAX_CURSOR:
        raise InvalidInput("invalid cursor: too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        loaded = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidInput("invalid cursor: pass the 'next' of a listing unchanged") from None
    if not (
        isinstance(loaded, list)
        and len(loaded) == 4
        and isinstance(loaded[0], str)
        and type(loaded[1]) is int
        and 0 <= loaded[1] <= 2
        and _is_value(loaded[2])
        and isinstance(loaded[3], str)
        and len(loaded[3]) <= 64
    ):
        raise InvalidInput("invalid cursor: pass the 'next' of a listing unchanged")
    if loaded[0] != order_by:
        raise InvalidInput(
            f"the cursor is for order_by={loaded[0]!r}, not {order_by!r}: "
            "start again from the first page"
        )
    return Cursor(loaded[0], loaded[1], loaded[2], loaded[3])


def _is_value(value: object) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -INT64 <= value <= INT64  # a bigger one would overflow the database's column
    # NaN and infinities are values a metric can hold: a page may end on one.
    return isinstance(value, float)

"""The times Tunelab records: float seconds since the epoch (UTC), from the epoch itself to
the last second of year 9999, the span every calendar (Python's ``datetime``, browsers,
PostgreSQL) can show. A time outside it is refused where it comes in, so no page, sort or
export meets a year it cannot print.

Example::

    if not in_range(ts):
        raise InvalidInput(f"ts must be {DESCRIPTION}, got {ts!r}")
"""

from __future__ import annotations

EARLIEST = 0.0
LATEST = 253_402_300_799.0  # 9999-12-31 23:59:59 UTC
DESCRIPTION = "seconds since the epoch between 1970 and the end of year 9999"


def in_range(ts: float) -> bool:
    """Whether ``ts`` is a time Tunelab records (False for NaN and the infinities)."""
    return EARLIEST <= ts <= LATEST

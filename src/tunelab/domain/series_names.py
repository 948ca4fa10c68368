"""What a scalar series may be named: storable text of 1 to 512 characters.

The SDK cleans a name once, when a series is first reported (``storable_text``), and keeps
no points for a name still refused (``name_problem``), so one odd name never makes the
server refuse a batch that holds other series' points::

    name_problem("")                # "is empty"
"""

from __future__ import annotations

MAX_NAME_LENGTH = 512  # the metric/variant columns' size


def name_problem(name: str) -> str | None:
    """Why a storable name still cannot be a series' name, or None."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    return None

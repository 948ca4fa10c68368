"""What an artifact may be named: a name that sits in a URL path and a folder as it is.

The SDK checks a name at the call, before anything is uploaded, and the store checks it
again: the same rule, so a name the server would refuse never leaves a file behind in
storage with no record pointing at it::

    check_name("weights")    # "weights"
    check_name("..")         # InvalidInput
"""

from __future__ import annotations

from typing import Any, TypeGuard

from tunelab.domain.path_names import is_segment_name
from tunelab.errors import InvalidInput

MAX_NAME_LENGTH = 256


def check_name(value: Any) -> str:
    """A name that can sit in a URL path: 1-256 characters, no ``/`` or ``\\``, no control
    characters, not ``.`` or ``..`` (a client saving artifacts under their names must not
    be led out of its folder)."""
    if not is_name(value):
        raise InvalidInput(
            f"an artifact name must be 1 to {MAX_NAME_LENGTH} characters, without '/', '\\' "
            f"or control characters, and not '.' or '..'; got {value!r}"
        )
    return value


def is_name(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME_LENGTH and is_segment_name(value)

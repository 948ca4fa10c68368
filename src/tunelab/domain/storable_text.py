"""Text every store holds: no NUL and no surrogate without its pair.

PostgreSQL text holds neither, and UTF-8 cannot carry the latter at all (a file name decoded
with ``surrogateescape`` has them). The server refuses both in what it stores; what a run's
capture sends in the background is cleaned first instead, each such character replaced by
U+FFFD as the console keeps a NUL, so one odd character never costs the data sent with it::

    storable_text("loss\\x00")                     # "loss\\ufffd"
    storable({"lr\\x00": 1, "ok": ["a\\ud800"]})    # {"lr\\ufffd": 1, "ok": ["a\\ufffd"]}
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: object) -> str:
    """``value`` as text, each NUL and unpaired surrogate replaced by U+FFFD."""
    text = value if isinstance(value, str) else str(value)
    return _UNSTORABLE.sub("\ufffd", text)


def storable(value: Any) -> Any:
    """``value`` with every text in it (dict keys included) made storable; dicts, lists and
    tuples are copied (a tuple of a subclass, such as a named tuple, as a list), anything
    else is kept as it is."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [storable(item) for item in value]
        return tuple(items) if type(value) is tuple else items  # JSON makes the rest lists
    return value

"""Text shown on a terminal as it is: names and messages come from any user of the server,
and a control character in one (an escape sequence, a newline) would act on the reader's
terminal, or break a table or a log line.

Example::

    plain("run\x1b[2J")   # 'run\\x1b[2J': the escape shown, not sent
"""

from __future__ import annotations

# C0 and C1 control characters, DEL included, as the escapes Python writes for them.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def plain(value: object) -> str:
    """``value`` as text with each control character shown as its escape (``\\x1b``)."""
    return str(value).translate(_CONTROLS)

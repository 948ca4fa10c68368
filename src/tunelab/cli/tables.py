"""How the CLI prints: aligned tables, local times, sizes, files deleted from storage."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import click


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def size(count: int | None) -> str:
    if count is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)


# C0 and C1 control characters, DEL included, as the escapes Python writes for them.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def plain(value: object) -> str:
    """``value`` as text a terminal shows as it is: names come from any user of the
    server, and a control character in one (an escape sequence, a newline) would act on the
    reader's terminal or break the table. Each is shown as its escape, ``\\x1b``."""
    return str(value).translate(_CONTROLS)


def table(headers: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    shown = [tuple(plain(c) for c in row) for row in [headers, *rows]]
    widths = [max(len(c) for c in col) for col in zip(*shown, strict=False)]
    for row in shown:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


def report_files(answer: Mapping[str, Any]) -> None:
    deleted = answer.get("deleted_files") or []
    if deleted:
        click.echo(f"deleted {len(deleted)} file(s) from storage")
    failed = answer.get("failed_files") or []
    for item in failed:
        click.echo(f"warning: could not delete {item['uri']}: {item['error']}", err=True)

"""How the CLI prints: aligned tables, local times, sizes, files deleted from storage."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

from tunelab.domain.terminal_text import plain


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

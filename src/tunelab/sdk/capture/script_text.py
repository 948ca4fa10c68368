"""A script outside any repository: its whole text is the code.

With no repository to check out, the task records the script itself in the field that holds
the uncommitted changes (``diff``), with no repository, the script's file name as the entry
point and ``.`` as the working dir. An agent given such a task writes the text into an empty
working directory under that name and runs it (``tunelab.agent.repository.write_script``).
A notebook's code is recorded the same way, as a ``.py`` export of its cells.
"""

from __future__ import annotations

from pathlib import Path

from tunelab.sdk.capture.git import MAX_DIFF_BYTES, SourceInfo


def script_source(
    script: Path, warnings: tuple[str, ...] = (), *, max_bytes: int = MAX_DIFF_BYTES
) -> SourceInfo:
    """The source fields of ``script`` run from no repository: its text and its file name.

    >>> info = script_source(Path("/tmp/train.py"))  # doctest: +SKIP
    >>> info.repository, info.entry_point, info.working_dir, info.diff[:12]
    ('', 'train.py', '.', 'import torch')
    """
    notes = list(warnings)
    try:
        raw = script.read_bytes()
    except OSError as exc:
        notes.append(f"cannot read the script {script}: {exc}")
        raw = b""
    if len(raw) > max_bytes:
        notes.append(f"script larger than {max_bytes} bytes: its text is not recorded")
        raw = b""
    return text_source(script.name, raw.decode("utf-8", errors="replace"), tuple(notes))


def text_source(entry_point: str, text: str, warnings: tuple[str, ...] = ()) -> SourceInfo:
    """Source fields for code given as text (a script's, or a notebook's export)."""
    return SourceInfo(entry_point=entry_point, working_dir=".", diff=text, warnings=warnings)

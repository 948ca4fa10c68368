"""The side-by-side rows of the Compare page: details, execution, requirements,
hyperparameters, configuration objects and user properties of a few experiments.

Every value is compared with the first experiment's: a cell that differs from it is marked
``diff`` and its row ``differs``. A value an experiment lacks counts as different.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunelab.server.web.templating import size, stamp

Kind = Literal["text", "code", "block", "status"]
Task = Mapping[str, Any]

# A unified diff longer than this is cut: the cell is a hint, the experiment page has it all.
MAX_DIFF_LINES = 80


@dataclass(frozen=True)
class Cell:
    text: str
    missing: bool = False
    diff: bool = False
    # For a block that differs from the first experiment's: the unified diff against it.
    patch: str = ""


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]
    kind: Kind = "text"
    # False for values that differ by nature (start times): shown, never marked.
    compared: bool = True

    @property
    def differs(self) -> bool:
        return any(cell.diff for cell in self.cells)


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    rows: tuple[Row, ...]
    note: str = ""

    @property
    def differing(self) -> int:
        return sum(row.differs for row in self.rows)


def comparison_groups(experiments: Sequence[Task]) -> list[Group]:
    """Every group of rows, in page order; hyperparameters make one group per section."""
    return [
        details_group(experiments),
        execution_group(experiments),
        requirements_group(experiments),
        *hyperparameter_groups(experiments),
        configuration_group(experiments),
        user_properties_group(experiments),
    ]


def compared_row(
    label: str,
    values: Sequence[tuple[str, str] | None],
    *,
    kind: Kind = "text",
    compared: bool = True,
) -> Row:
    """A row from each experiment's ``(shown text, compared key)``, or None where it has none."""
    first = values[0]
    cells = []
    for index, value in enumerate(values):
        differs = compared and index > 0 and _key(value) != _key(first)
        if value is None:
            cells.append(Cell("—", missing=True, diff=differs))
            continue
        patch = ""
        if differs and kind == "block" and first is not None:
            patch = unified_diff(first[0], value[0])
        cells.append(Cell(value[0], diff=differs, patch=patch))
    return Row(label, tuple(cells), kind=kind, compared=compared)


def _key(value: tuple[str, str] | None) -> str | None:
    return None if value is None else value[1]


def _same(text: str) -> tuple[str, str]:
    return (text, text)


def details_group(experiments: Sequence[Task]) -> Group:
    def row(label: str, read: Callable[[Task], str], **options: Any) -> Row:
        return compared_row(label, [_same(read(task)) for task in experiments], **options)

    rows = (
        row("Project", lambda t: t["project"]["name"]),
        row("Status", lambda t: t["status"], kind="status"),
        row("Type", lambda t: t["type"]),
        row("User", lambda t: t["user"]),
        row("Tags", lambda t: ", ".join(t["tags"])),
        row("Parent", lambda t: t["parent"] or "", kind="code"),
        row("Started", lambda t: stamp(t["started"]), compared=False),
        row("Last iteration", lambda t: str(t["last_iteration"] or 0), compared=False),
    )
    return _without_blank_rows(Group("details", "Details", rows))


EXECUTION_ROWS = (
    ("repository", "Repository"),
    ("branch", "Branch"),
    ("commit", "Commit"),
    ("entry_point", "Entry point"),
    ("working_dir", "Working directory"),
    ("binary", "Binary"),
    ("docker_image", "Docker image"),
    ("docker_arguments", "Docker arguments"),
    ("output_uri", "Output destination"),
)


def execution_group(experiments: Sequence[Task]) -> Group:
    rows = [
        compared_row(label, [_same(task["execution"][field]) for task in experiments], kind="code")
        for field, label in EXECUTION_ROWS
    ]
    rows.append(
        compared_row(
            "Uncommitted changes",
            [
                (_diff_summary(task["execution"]["diff"]), task["execution"]["diff"])
                for task in experiments
            ],
        )
    )
    return _without_blank_rows(Group("execution", "Execution", tuple(rows)))


def _without_blank_rows(group: Group) -> Group:
    """Fields no experiment sets say nothing side by side: one note names them instead."""
    blank = [r for r in group.rows if all(not c.text and not c.missing for c in r.cells)]
    if not blank:
        return group
    kept = tuple(r for r in group.rows if r not in blank)
    note = "not set in any: " + ", ".join(r.label.lower() for r in blank)
    return Group(group.id, group.title, kept, note=note)


def _diff_summary(diff: str) -> str:
    if not diff.strip():
        return "none"
    lines = diff.count("\n") + (0 if diff.endswith("\n") else 1)
    return f"{lines} lines, {size(len(diff.encode()))}"


_PACKAGE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_lines(text: str) -> dict[str, str]:
    """``{package key: line}``: a line per package, keyed by its normalised name (PEP 503),
    so ``torch==2.1`` and ``torch==2.2`` land on one row. Blank lines and comments go."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _PACKAGE.match(line)
        key = re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else line
        found.setdefault(key, line)
    return found


def requirements_group(experiments: Sequence[Task]) -> Group:
    per_task = [requirement_lines(task["execution"]["requirements"]) for task in experiments]
    rows = tuple(
        compared_row(key, [_optional(lines.get(key)) for lines in per_task], kind="code")
        for key in sorted(_union(per_task))
    )
    return Group("requirements", "Python packages", rows, note="one row per package")


def hyperparameter_groups(experiments: Sequence[Task]) -> list[Group]:
    sections = _union(task["hyperparameters"] for task in experiments)
    groups = []
    for section in sorted(sections):
        params = [task["hyperparameters"].get(section, {}) for task in experiments]
        rows = tuple(
            compared_row(
                f"{section}/{name}",
                [_optional(_entry_value(p.get(name))) for p in params],
                kind="code",
            )
            for name in sorted(_union(params))
        )
        groups.append(Group(f"hyperparameters-{section}", f"Hyperparameters: {section}", rows))
    if not groups:
        groups.append(Group("hyperparameters", "Hyperparameters", ()))
    return groups


def _entry_value(entry: Mapping[str, Any] | None) -> str | None:
    return None if entry is None else str(entry["value"])


def configuration_group(experiments: Sequence[Task]) -> Group:
    objects = [task["configuration"] for task in experiments]
    rows = tuple(
        compared_row(name, [_optional(_entry_text(o.get(name))) for o in objects], kind="block")
        for name in sorted(_union(objects))
    )
    return Group("configuration", "Configuration objects", rows)


def _entry_text(entry: Mapping[str, Any] | None) -> str | None:
    return None if entry is None else str(entry["text"])


def user_properties_group(experiments: Sequence[Task]) -> Group:
    props = [task["user_properties"] for task in experiments]
    rows = tuple(
        compared_row(name, [_optional(_entry_value(p.get(name))) for p in props])
        for name in sorted(_union(props))
    )
    return Group("user-properties", "User properties", rows)


def _optional(text: str | None) -> tuple[str, str] | None:
    return None if text is None else _same(text)


def _union(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Keys of all mappings, first seen first (the first experiment's order leads)."""
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def unified_diff(before: str, after: str) -> str:
    lines = list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), "first", "this", lineterm="", n=1
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)

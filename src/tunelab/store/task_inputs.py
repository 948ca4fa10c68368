"""A task's inputs: hyperparameters, configuration objects and user properties.

Hyperparameters and configuration are inputs (editable on a draft, or by the running task's
own SDK with ``by_run``); user properties in any status but published.

All three have the API's shape: hyperparameters are ``{section: {name: entry}}``, the other
two ``{name: entry}``. A PUT replaces every entry of the kind; a PATCH replaces the entries
it names, keeps the others and deletes those given as ``None`` (a hyperparameter section given
as ``None`` goes whole). Each write is a handful of bulk statements, whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import sqlalchemy as sa

from tunelab.domain.lifecycle import Editable, editable_in, require_editable
from tunelab.domain.path_names import PATH_RULE, SEGMENT_RULE, is_path_name, is_segment_name
from tunelab.domain.task import TaskStatus
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store.lookup import now
from tunelab.store.schema import task_configuration, task_params, task_properties, tasks

InputKind = Literal["hyperparameters", "configuration", "user_properties"]
INPUT_KINDS: tuple[InputKind, ...] = ("hyperparameters", "configuration", "user_properties")
Entry = Mapping[str, Any]
Row = dict[str, Any]
# A new task's input rows by kind (``new_input_rows``).
InputRows = dict[InputKind, list[Row]]

MAX_SECTION_LENGTH = 256
MAX_NAME_LENGTH = 512
MAX_TYPE_LENGTH = 64


@dataclass(frozen=True)
class _Kind:
    table: sa.Table
    sectioned: bool
    # The field an entry must give ("value" or "text"), and the others with their defaults.
    required: str
    defaults: Mapping[str, str]

    @property
    def keys(self) -> tuple[str, ...]:
        return ("section", "name") if self.sectioned else ("name",)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.required, *self.defaults)

    @cached_property
    def read(self) -> sa.Select[Any]:
        # One statement object for every read: SQLAlchemy finds it compiled by identity
        # instead of building a cache key from a new statement each time.
        table = self.table
        return (
            sa.select(*(table.c[k] for k in self.keys), *(table.c[f] for f in self.fields))
            .where(table.c.task_id == sa.bindparam("task_id"))
            .order_by(*(table.c[k] for k in self.keys))
        )


_KINDS: dict[str, _Kind] = {
    "hyperparameters": _Kind(task_params, True, "value", {"type": "str", "description": ""}),
    "configuration": _Kind(
        task_configuration, False, "text", {"type": "dictionary", "description": ""}
    ),
    "user_properties": _Kind(task_properties, False, "value", {"type": "str", "description": ""}),
}


def read_inputs(conn: sa.Connection, task_id: str, kind: InputKind) -> dict[str, Any]:
    spec = _KINDS[kind]
    rows = conn.execute(spec.read, {"task_id": task_id}).all()
    return _as_read(spec, [row._mapping for row in rows])


def read_all_inputs(conn: sa.Connection, task_id: str) -> dict[str, dict[str, Any]]:
    """All three kinds in one query (every whole task reads them: one round trip, not three)."""
    found: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in INPUT_KINDS}
    for row in conn.execute(_ALL_INPUTS, {"task_id": task_id}):
        spec = _KINDS[row.kind]
        found[row.kind].append(
            {
                "section": row.section,
                "name": row.name,
                spec.required: row.value,
                "type": row.type,
                "description": row.description,
            }
        )
    return {kind: _as_read(_KINDS[kind], rows) for kind, rows in found.items()}


def _all_inputs() -> sa.CompoundSelect[Any]:
    parts = []
    for kind, spec in _KINDS.items():
        table = spec.table
        section = table.c.section if spec.sectioned else sa.cast(sa.null(), sa.String)
        parts.append(
            sa.select(
                sa.literal(kind, sa.String).label("kind"),
                section.label("section"),
                table.c.name,
                table.c[spec.required].label("value"),
                table.c.type,
                table.c.description,
            ).where(table.c.task_id == sa.bindparam("task_id"))
        )
    # Each kind in its keys' order, as ``read_inputs`` reads it.
    return sa.union_all(*parts).order_by("kind", "section", "name")


def replace_inputs(
    conn: sa.Connection,
    task_id: str,
    kind: InputKind,
    data: Mapping[str, Any],
    *,
    by_run: bool = False,
) -> dict[str, Any]:
    """Make ``data`` the task's whole set of ``kind``; answers what is stored now."""
    spec = _KINDS[kind]
    kept = _stored_odd_names(conn, spec, task_id, data)
    rows, deleted_keys, deleted_sections = _rows(spec, task_id, data, kept)
    if deleted_keys or deleted_sections:
        raise InvalidInput(f"null deletes an entry only when merging {kind} (PATCH), not in PUT")
    _lock_editable(conn, task_id, kind, by_run)
    conn.execute(spec.table.delete().where(spec.table.c.task_id == task_id))
    _insert(conn, spec, rows)
    return read_inputs(conn, task_id, kind)


def merge_inputs(
    conn: sa.Connection,
    task_id: str,
    kind: InputKind,
    data: Mapping[str, Any],
    *,
    by_run: bool = False,
) -> dict[str, Any]:
    """Replace the entries ``data`` gives, delete those it gives as ``None``, keep the rest."""
    spec = _KINDS[kind]
    kept = _stored_odd_names(conn, spec, task_id, data)
    rows, deleted_keys, deleted_sections = _rows(spec, task_id, data, kept)
    _lock_editable(conn, task_id, kind, by_run)
    table = spec.table
    if deleted_sections:
        conn.execute(
            table.delete().where(table.c.task_id == task_id, table.c.section.in_(deleted_sections))
        )
    # An upsert as delete-then-insert: the same two statements on SQLite and PostgreSQL.
    doomed = deleted_keys + [tuple(row[k] for k in spec.keys) for row in rows]
    if doomed:
        conn.execute(
            table.delete().where(
                table.c.task_id == sa.bindparam("k_task_id"),
                *(table.c[k] == sa.bindparam(f"k_{k}") for k in spec.keys),
            ),
            [
                {"k_task_id": task_id, **{f"k_{k}": v for k, v in zip(spec.keys, key, strict=True)}}
                for key in doomed
            ],
        )
    _insert(conn, spec, rows)
    return read_inputs(conn, task_id, kind)


def new_input_rows(task_id: str, given: Mapping[InputKind, Mapping[str, Any] | None]) -> InputRows:
    """The checked rows of a task being created (it has none yet): what
    ``insert_input_rows`` stores and ``inputs_as_read`` shows."""
    found: InputRows = {}
    for kind, data in given.items():
        if not data:
            continue
        rows, deleted_keys, deleted_sections = _rows(_KINDS[kind], task_id, data)
        if deleted_keys or deleted_sections:
            raise InvalidInput(f"null is not a valid entry in a new task's {kind}")
        found[kind] = rows
    return found


def insert_input_rows(conn: sa.Connection, new_tasks: Sequence[InputRows]) -> None:
    """Store new tasks' input rows: one statement per kind, however many tasks."""
    for kind in INPUT_KINDS:
        _insert(conn, _KINDS[kind], [row for rows in new_tasks for row in rows.get(kind, ())])


def inputs_as_read(rows: InputRows) -> dict[str, dict[str, Any]]:
    """What ``read_all_inputs`` answers once a new task's ``rows`` are stored."""
    found: dict[str, dict[str, Any]] = {}
    for kind in INPUT_KINDS:
        spec = _KINDS[kind]
        given = sorted(rows.get(kind, ()), key=lambda row: tuple(row[k] for k in spec.keys))
        found[kind] = _as_read(spec, given)
    return found


def _as_read(spec: _Kind, rows: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """Rows, in their keys' order, in the API's shape."""
    found: dict[str, Any] = {}
    for row in rows:
        entry = {f: row[f] for f in spec.fields}
        if spec.sectioned:
            found.setdefault(row["section"], {})[row["name"]] = entry
        else:
            found[row["name"]] = entry
    return found


_ALL_INPUTS = _all_inputs()

_EDITABLE_AS = {
    "hyperparameters": Editable.INPUTS,
    "configuration": Editable.INPUTS,
    "user_properties": Editable.USER_PROPERTIES,
}


def _lock_editable(conn: sa.Connection, task_id: str, kind: InputKind, by_run: bool) -> None:
    """Move the task's last_update if its status allows the write, else raise saying why.

    One conditional UPDATE: it also takes the task's row lock (PostgreSQL), so the status
    cannot change under the write (an enqueue waits for it), and two merges into the same
    task run one after the other instead of racing on delete-then-insert.
    """
    allowed = editable_in(_EDITABLE_AS[kind], by_run=by_run)
    touched = conn.execute(
        tasks.update()
        .where(tasks.c.id == task_id, tasks.c.status.in_(sorted(s.value for s in allowed)))
        .values(last_update=now())
    )
    if touched.rowcount == 1:
        return
    status = conn.execute(sa.select(tasks.c.status).where(tasks.c.id == task_id)).scalar()
    if status is None:
        raise NotFound(f"no task with id {task_id!r}")
    require_editable(_EDITABLE_AS[kind], TaskStatus(status), by_run=by_run)
    # Allowed now, refused a moment ago: the status changed in between.
    raise Conflict(f"the task's status changed to {status} meanwhile; try again")


def _insert(conn: sa.Connection, spec: _Kind, rows: list[Row]) -> None:
    if rows:
        conn.execute(spec.table.insert(), rows)


def _rows(
    spec: _Kind, task_id: str, data: Mapping[str, Any], kept: frozenset[str] = frozenset()
) -> tuple[list[Row], list[tuple[str, ...]], list[str]]:
    """``data`` flattened into rows to insert, keys to delete and sections to delete;
    ``kept``: stored names written again though they break the path-name rule."""
    if not isinstance(data, Mapping):
        raise InvalidInput("expected an object of entries")
    rows: list[Row] = []
    deleted: list[tuple[str, ...]] = []
    sections: list[str] = []
    if not spec.sectioned:
        for name, entry in data.items():
            _check_name(name, "name", MAX_NAME_LENGTH)
            if entry is None:
                # A stored name is deleted whatever it is (it may predate the rule).
                deleted.append((name,))
            else:
                if spec.table is task_configuration and name not in kept:
                    _check_url_name(spec, name, "configuration object")
                rows.append({"task_id": task_id, "name": name, **_entry(spec, name, entry)})
        return rows, deleted, sections
    for section, params in data.items():
        _check_name(section, "section", MAX_SECTION_LENGTH)
        if params is None:
            sections.append(section)
            continue
        if section not in kept:
            _check_url_name(spec, section, "hyperparameter section")
        if not isinstance(params, Mapping):
            raise InvalidInput(f"section {section!r} must be an object of parameters")
        for name, entry in params.items():
            _check_name(name, "name", MAX_NAME_LENGTH)
            key = f"{section}/{name}"
            if entry is None:
                deleted.append((section, name))
            else:
                rows.append(
                    {
                        "task_id": task_id,
                        "section": section,
                        "name": name,
                        **_entry(spec, key, entry),
                    }
                )
    return rows, deleted, sections


def _entry(spec: _Kind, key: str, entry: Any) -> dict[str, str]:
    if not isinstance(entry, Mapping):
        raise InvalidInput(f"{key!r} must be an object with {spec.required!r}")
    unknown = set(entry) - set(spec.fields)
    if unknown:
        raise InvalidInput(f"{key!r} has unknown fields {sorted(unknown)}; allowed: {spec.fields}")
    if spec.required not in entry:
        raise InvalidInput(f"{key!r} needs {spec.required!r}")
    values = {**spec.defaults, **entry}
    for field, value in values.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{key!r}: {field} must be text, got {type(value).__name__}")
    if len(values["type"]) > MAX_TYPE_LENGTH:
        raise InvalidInput(f"{key!r}: type is at most {MAX_TYPE_LENGTH} characters")
    return values


def _stored_odd_names(
    conn: sa.Connection, spec: _Kind, task_id: str, data: Mapping[str, Any]
) -> frozenset[str]:
    """The names in ``data`` that break the path-name rule but are stored already (from
    before the rule): they can still be edited, only no new one is made."""
    if spec.table is task_properties or not isinstance(data, Mapping):
        return frozenset()
    # NUL: never stored (PostgreSQL refuses it even in a query), so never kept.
    odd = [n for n in data if isinstance(n, str) and not _fits_url(spec, n) and "\x00" not in n]
    if not odd:
        return frozenset()
    column = spec.table.c[spec.keys[0]]  # a section, or a configuration object's name
    found = conn.execute(
        sa.select(column).distinct().where(spec.table.c.task_id == task_id, column.in_(odd))
    ).scalars()
    return frozenset(found)


def _fits_url(spec: _Kind, name: str) -> bool:
    # A configuration object's name and a hyperparameter section's may hold "/" (their
    # routes take the rest of the path): a section is named after its parameter file in a
    # run from a repository ("configs/train.yaml").
    return is_path_name(name) if _path_named(spec) else is_segment_name(name)


def _path_named(spec: _Kind) -> bool:
    return spec.table is task_configuration or spec.sectioned


def _check_url_name(spec: _Kind, name: str, what: str) -> None:
    # Pages address these by name in the URL path (tunelab.domain.path_names.segment).
    if not _fits_url(spec, name):
        rule = PATH_RULE if _path_named(spec) else SEGMENT_RULE
        raise InvalidInput(f"a {what}'s name appears in URLs, so it is {rule}: got {name!r}")


def _check_name(name: Any, what: str, limit: int) -> None:
    if not isinstance(name, str) or not name or len(name) > limit:
        raise InvalidInput(f"a {what} must be 1 to {limit} characters, got {name!r}")

"""Listing tasks: filters, sorting by a field, a hyperparameter or a metric, pages with a total.

Tasks lacking the sort value come last, and ties break on the id (in the sort's direction),
so pages never overlap. When the filters match many tasks, a sort walks an index of its value
(a task column's, ``task_metrics``' (metric, variant, value) or
``ix_task_params_section_name_number``) and reads about as many rows as the page shows: the
tasks with a value first, then, only if the page runs past them, the others. When the
filters match few tasks, sorting those few in one query is cheaper than walking an index
that holds every task's value.

Deep pages take a cursor (``after``, from the previous page's ``next``) instead of a page
number: the page then starts right after the last row shown, in the index's order, and
costs what the first page does (``task_cursor``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tunelab.domain.task import TaskStatus, TaskType
from tunelab.errors import InvalidInput
from tunelab.store.lookup import visible_only
from tunelab.store.projects import project_ids
from tunelab.store.schema import PARAM_NUMBER_SQL, task_metrics, task_params, task_tags, tasks
from tunelab.store.task_cursor import Cursor, decode_cursor
from tunelab.store.task_filters import filter_conditions, parse_filters
from tunelab.store.tasks import SUMMARY_COLUMNS, summaries

SORT_FIELDS = (
    "name",
    "status",
    "type",
    "created",
    "started",
    "completed",
    "last_update",
    "last_iteration",
    "user",
)
METRIC_VALUES = ("last", "min", "max")
ARCHIVED_CHOICES = ("false", "true", "all")
MAX_PAGE_SIZE = 500
# (page - 1) * page_size must fit the database's 64-bit OFFSET.
MAX_PAGE = 1_000_000_000
# Below this many matching tasks a sort reads and sorts them all in one query: cheap at this
# size, while an index walk might skip past the values of every other project's tasks.
SORT_DIRECTLY_BELOW = 5_000
SORT_FORMS = (
    *SORT_FIELDS,
    "hyperparameters.SECTION/NAME",
    "metrics.METRIC/VARIANT.last",
    "metrics.METRIC/VARIANT.min",
    "metrics.METRIC/VARIANT.max",
)


@dataclass(frozen=True)
class TaskQuery:
    project: str | None = None
    include_subprojects: bool = True
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    search: str | None = None
    archived: str = "false"
    order_by: str = "-last_update"
    page: int = 1
    page_size: int = 50
    # Metric and hyperparameter filters, as ``task_filters`` reads them.
    filters: tuple[str, ...] = ()
    # The ``next`` of the previous page: this page starts after its last row.
    after: str | None = None
    # Only tasks of these projects (what the asking account may see); None: every project.
    visible: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SortKey:
    """What ``order_by`` names: a task field, a hyperparameter or a metric's value."""

    descending: bool
    field: str = ""
    section: str = ""
    param: str = ""
    metric: str = ""
    variant: str = ""
    value: str = ""


def parse_order_by(text: str) -> SortKey:
    descending = text.startswith("-")
    key = text[1:] if descending else text
    if key in SORT_FIELDS:
        return SortKey(descending, field=key)
    if key.startswith("hyperparameters."):
        # Sections cannot hold "/", so the first one splits section from name.
        section, _, param = key.removeprefix("hyperparameters.").partition("/")
        if section and param:
            return SortKey(descending, section=section, param=param)
    if key.startswith("metrics."):
        # Metric names often hold "/" ("train/loss"), so the last one starts the variant.
        head, _, value = key.removeprefix("metrics.").rpartition(".")
        metric, _, variant = head.rpartition("/")
        if metric and variant and value in METRIC_VALUES:
            return SortKey(descending, metric=metric, variant=variant, value=value)
    raise InvalidInput(
        f"cannot sort by {text!r}: use one of {', '.join(SORT_FORMS)}, "
        "with a leading '-' to sort descending",
        detail={"valid": list(SORT_FORMS)},
    )


def list_tasks(
    conn: sa.Connection, query: TaskQuery, *, sort_directly_below: int = SORT_DIRECTLY_BELOW
) -> dict[str, Any]:
    """One page of ``TaskSummary`` dicts with the total the filters match, and ``next``: the
    cursor of the page after it (None on the last page)."""
    key = parse_order_by(query.order_by)
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    if query.page < 1:
        raise InvalidInput("page must be 1 or more")
    if query.after is not None and query.page != 1:
        raise InvalidInput("give either page or after, not both")
    cursor = decode_cursor(query.after, query.order_by) if query.after is not None else None
    if cursor is not None:
        _check_cursor(cursor, key)
    where = _filters(conn, query)
    total = conn.execute(sa.select(sa.func.count()).select_from(tasks).where(*where)).scalar_one()
    # One row more than the page shows tells whether another page follows.
    offset = (query.page - 1) * query.page_size
    page = _Page(where, key, offset, query.page_size + 1, cursor)
    # A cursor always walks the parts in index order, where it can start mid-way.
    few = total < sort_directly_below and cursor is None
    if key.field:
        nullable = tasks.c[key.field].nullable and not few
        rows = _page_by_nullable_field(conn, page) if nullable else _page_by_field(conn, page)
    elif few:
        rows = _page_of_few(conn, page)
    elif key.metric:
        rows = _page_by_metric(conn, page)
    else:
        rows = _page_by_param(conn, page)
    more = len(rows) > query.page_size
    rows = rows[: query.page_size]
    items = summaries(conn, rows)
    if not key.field:
        for item, row in zip(items, rows, strict=True):
            item["sort_value"] = row.sort_value
    after = _cursor_after(rows[-1], key, query.order_by).encode() if more else None
    return {
        "items": items,
        "total": total,
        "page": query.page,
        "page_size": query.page_size,
        "next": after,
    }


def _check_cursor(cursor: Cursor, key: SortKey) -> None:
    """Refuses a cursor whose part or value this sort cannot have (one made by hand)."""
    value = cursor.value
    number = isinstance(value, int | float)
    if key.field:
        column = tasks.c[key.field]
        kind = str if isinstance(column.type, sa.String) else int | float
        fits = (cursor.part == 0 and isinstance(value, kind)) or (
            cursor.part == 1 and value is None and column.nullable
        )
    elif key.metric:
        fits = (cursor.part == 0 and number) or (cursor.part == 1 and value is None)
    else:
        fits = (
            (cursor.part == 0 and number)
            or (cursor.part == 1 and isinstance(value, str))
            or (cursor.part == 2 and value is None)
        )
    if not fits:
        raise InvalidInput("invalid cursor: pass the 'next' of a listing unchanged")


def _cursor_after(row: sa.Row[Any], key: SortKey, order_by: str) -> Cursor:
    """Where the page after ``row`` starts: its part of the listing and its sort value."""
    if key.field:
        value = getattr(row, key.field)
        return Cursor(order_by, 1 if value is None else 0, value, row.id)
    if key.metric:
        return Cursor(order_by, 1 if row.sort_value is None else 0, row.sort_value, row.id)
    if row.sort_number is not None:
        return Cursor(order_by, 0, row.sort_number, row.id)
    return Cursor(order_by, 1 if row.sort_value is not None else 2, row.sort_value, row.id)


def listing_version(conn: sa.Connection, query: TaskQuery) -> str:
    """A token that changes when the tasks ``query`` matches change: how many match and the
    latest ``last_update`` among them (every write to a task or its outputs moves it). One
    aggregate over the same filters as the page's total, so a table can poll it cheaply."""
    where = _filters(conn, query)
    found = conn.execute(
        sa.select(sa.func.count(), sa.func.max(tasks.c.last_update)).where(*where)
    ).one()
    return f"{found[0]}-{found[1] or 0}"


def _filters(conn: sa.Connection, query: TaskQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    where += visible_only(tasks.c.project_id, query.visible)
    if query.project is not None:
        ids = project_ids(conn, query.project, include_subprojects=query.include_subprojects)
        # One id keeps the (project_id, last_update) index usable for the default sort.
        where.append(tasks.c.project_id == ids[0] if len(ids) == 1 else tasks.c.project_id.in_(ids))
    if query.statuses:
        unknown = set(query.statuses) - {s.value for s in TaskStatus}
        if unknown:
            allowed = ", ".join(s.value for s in TaskStatus)
            raise InvalidInput(f"unknown status {sorted(unknown)}; one of: {allowed}")
        where.append(tasks.c.status.in_(sorted(set(query.statuses))))
    if query.types:
        unknown = set(query.types) - {t.value for t in TaskType}
        if unknown:
            allowed = ", ".join(t.value for t in TaskType)
            raise InvalidInput(f"unknown type {sorted(unknown)}; one of: {allowed}")
        where.append(tasks.c.type.in_(sorted(set(query.types))))
    for tag in sorted(set(query.tags)):
        where.append(sa.exists().where(task_tags.c.task_id == tasks.c.id, task_tags.c.tag == tag))
    if query.search:
        where.append(tasks.c.name.icontains(query.search, autoescape=True))
    if query.archived not in ARCHIVED_CHOICES:
        raise InvalidInput(f"archived must be one of {', '.join(ARCHIVED_CHOICES)}")
    if query.archived != "all":
        where.append(tasks.c.archived == (sa.true() if query.archived == "true" else sa.false()))
    where += filter_conditions(conn, parse_filters(query.filters))
    return where


@dataclass(frozen=True)
class _Page:
    where: list[ColumnElement[bool]]
    key: SortKey
    offset: int
    limit: int
    cursor: Cursor | None = None

    def ordered(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column.desc() if self.key.descending else column.asc()


def _page_by_field(conn: sa.Connection, page: _Page) -> list[sa.Row[Any]]:
    column = tasks.c[page.key.field]
    first = page.ordered(column)
    # Only nullable columns get NULLS LAST: on the others it would stop index use.
    order = [first.nulls_last() if column.nullable else first, page.ordered(tasks.c.id)]
    query = sa.select(*SUMMARY_COLUMNS).where(*page.where).order_by(*order)
    if page.cursor is not None:
        # Only a column without NULLs comes here with a cursor: one part.
        query = query.where(_after(page, [column, tasks.c.id]))
        return list(conn.execute(query.limit(page.limit)))
    return list(conn.execute(query.limit(page.limit).offset(page.offset)))


def _after(page: _Page, keys: list[ColumnElement[Any]]) -> ColumnElement[bool]:
    """The rows after the cursor's, in the order of ``keys`` (the part's sort value, if it
    has one, then the id)."""
    assert page.cursor is not None
    values = [page.cursor.value, page.cursor.task_id][-len(keys) :]
    if len(keys) == 1:
        return keys[0] < values[0] if page.key.descending else keys[0] > values[0]
    # "value >= v AND (value > v OR id > i)" rather than a row value or a bare OR: both
    # databases then start the index walk at the cursor's value.
    first, then = keys
    if page.key.descending:
        return sa.and_(first <= values[0], sa.or_(first < values[0], then < values[1]))
    return sa.and_(first >= values[0], sa.or_(first > values[0], then > values[1]))


def _page_by_nullable_field(conn: sa.Connection, page: _Page) -> list[sa.Row[Any]]:
    """The tasks with a value, walking the column's index; then the others.

    One ORDER BY ... NULLS LAST would do, but no index holds that order both ways on both
    databases, so a big listing would sort every task.
    """
    column = tasks.c[page.key.field]
    valued = _part(
        SUMMARY_COLUMNS,
        tasks,
        [column.is_not(None), *page.where],
        [column, tasks.c.id],
        page,
    )
    lacking = _part(SUMMARY_COLUMNS, tasks, [column.is_(None), *page.where], [tasks.c.id], page)
    return _fill_page(conn, [valued, lacking], page)


def _metric_value(key: SortKey) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    """The metric's column and what picks its row of a task."""
    metric = task_metrics
    named = sa.and_(metric.c.metric == key.metric, metric.c.variant == key.variant)
    return metric.c[key.value], named


def _param_number(conn: sa.Connection) -> ColumnElement[Any]:
    # Spelled exactly as the index ix_task_params_section_name_number is, or it goes unused.
    sql = PARAM_NUMBER_SQL[conn.dialect.name].format(t="task_params.")
    return sa.literal_column(f"({sql})", sa.Float(53))


def _param_named(key: SortKey) -> ColumnElement[bool]:
    return sa.and_(task_params.c.section == key.section, task_params.c.name == key.param)


def _page_of_few(conn: sa.Connection, page: _Page) -> list[sa.Row[Any]]:
    """A metric or parameter sort over few tasks: one query sorting them all, in the same
    order as the index-walking pages below."""
    extra: list[ColumnElement[Any]] = []
    if page.key.metric:
        value, named = _metric_value(page.key)
        joined = tasks.outerjoin(task_metrics, sa.and_(task_metrics.c.task_id == tasks.c.id, named))
        order = [page.ordered(value).nulls_last()]
    else:
        value = task_params.c.value
        number = _param_number(conn)
        joined = tasks.outerjoin(
            task_params, sa.and_(task_params.c.task_id == tasks.c.id, _param_named(page.key))
        )
        # Numbers by number, then other values by text; ties on a number go to the id.
        text = sa.case((number.is_(None), value), else_=sa.null())
        order = [page.ordered(number).nulls_last(), page.ordered(text).nulls_last()]
        extra.append(number.label("sort_number"))
    query = (
        sa.select(*SUMMARY_COLUMNS, value.label("sort_value"), *extra)
        .select_from(joined)
        .where(*page.where)
        .order_by(*order, page.ordered(tasks.c.id))
    )
    return list(conn.execute(query.limit(page.limit).offset(page.offset)))


@dataclass(frozen=True)
class _Part:
    """One stretch of a sorted listing: its rows in order, how to count them, and what
    orders them (the sort value, if the part has one, then the id)."""

    rows: sa.Select[Any]
    count: sa.Select[Any]
    keys: list[ColumnElement[Any]]


def _part(
    columns: Sequence[ColumnElement[Any]],
    source: sa.FromClause,
    where: list[ColumnElement[bool]],
    keys: list[ColumnElement[Any]],
    page: _Page,
) -> _Part:
    """``keys``: what orders the part, each in the page's direction (the last is the id)."""
    rows = sa.select(*columns).select_from(source).where(*where)
    rows = rows.order_by(*(page.ordered(k) for k in keys))
    return _Part(rows, sa.select(sa.func.count()).select_from(source).where(*where), keys)


def _page_by_metric(conn: sa.Connection, page: _Page) -> list[sa.Row[Any]]:
    """Tasks with the metric, walked in index order; then the tasks without it."""
    value, named = _metric_value(page.key)
    has_value = sa.and_(named, value.is_not(None))
    valued = _part(
        [*SUMMARY_COLUMNS, value.label("sort_value")],
        task_metrics.join(tasks, tasks.c.id == task_metrics.c.task_id),
        [has_value, *page.where],
        [value, task_metrics.c.task_id],
        page,
    )
    lacking = sa.not_(sa.exists().where(task_metrics.c.task_id == tasks.c.id, has_value))
    return _fill_page(conn, [valued, _lacking_part(page, lacking)], page)


def _page_by_param(conn: sa.Connection, page: _Page) -> list[sa.Row[Any]]:
    """Numbers in numeric order (an index walk), then other values as text, then tasks
    without the parameter."""
    param = task_params
    number = _param_number(conn)
    named = _param_named(page.key)
    with_param = param.join(tasks, tasks.c.id == param.c.task_id)

    def having(condition: ColumnElement[bool], order: ColumnElement[Any]) -> _Part:
        return _part(
            [*SUMMARY_COLUMNS, param.c.value.label("sort_value"), number.label("sort_number")],
            with_param,
            [named, condition, *page.where],
            [order, param.c.task_id],
            page,
        )

    numbers = having(number.is_not(None), number)
    texts = having(number.is_(None), param.c.value)
    lacking = sa.not_(sa.exists().where(param.c.task_id == tasks.c.id, named))
    return _fill_page(conn, [numbers, texts, _lacking_part(page, lacking, param=True)], page)


def _lacking_part(page: _Page, lacking: ColumnElement[bool], *, param: bool = False) -> _Part:
    empty = [sa.null().label("sort_number")] if param else []
    return _part(
        [*SUMMARY_COLUMNS, sa.null().label("sort_value"), *empty],
        tasks,
        [lacking, *page.where],
        [tasks.c.id],
        page,
    )


def _fill_page(conn: sa.Connection, parts: list[_Part], page: _Page) -> list[sa.Row[Any]]:
    """Rows ``offset`` to ``offset + limit`` of the parts laid end to end.

    A part is counted only when a page starts beyond its end, so the first pages cost one
    LIMIT query on the first part, whatever the number of tasks. With a cursor, the page
    starts after it in its part: the parts before are not read at all, and nothing is
    counted.
    """
    rows: list[sa.Row[Any]] = []
    skip = page.offset  # rows still to skip, counted from the start of the current part
    if page.cursor is not None:
        parts = parts[page.cursor.part :]
        skip = 0
    for index, part in enumerate(parts):
        query = part.rows
        if index == 0 and page.cursor is not None:
            query = query.where(_after(page, part.keys))
        query = query.limit(page.limit - len(rows))
        got = conn.execute(query.offset(skip) if skip else query).all()
        rows += got
        if len(rows) == page.limit:
            break
        if got:
            skip = 0  # this part ran out inside the page
        elif skip:
            skip = max(0, skip - conn.execute(part.count).scalar_one())
    return rows


def status_counts(conn: sa.Connection) -> dict[str, dict[str, int]]:
    """``{project_id: {status: count}}`` of each project's own non-archived tasks, from one
    grouped count.

    Grouped in the order of ``ix_tasks_project_id_archived_status`` and the archived groups
    dropped here: a WHERE or HAVING on ``archived`` makes SQLite sort every task in a
    temporary tree (3-4x slower).
    """
    c = tasks.c
    rows = conn.execute(
        sa.select(c.project_id, c.archived, c.status, sa.func.count()).group_by(
            c.project_id, c.archived, c.status
        )
    )
    counts: dict[str, dict[str, int]] = {}
    for project_id, archived, status, count in rows:
        if not archived:
            counts.setdefault(project_id, {})[status] = count
    return counts


def recently_updated_projects(conn: sa.Connection, limit: int, *, scan: int = 1_000) -> list[str]:
    """Ids of up to ``limit`` projects, the one with the latest task update first.

    Reads the ``scan`` latest task updates (an index walk) rather than grouping every task:
    a project whose last task change is older than those may be missed, as on any dashboard
    of what happened lately.
    """
    rows = conn.execute(
        sa.select(tasks.c.project_id).order_by(tasks.c.last_update.desc()).limit(scan)
    ).scalars()
    return list(dict.fromkeys(rows))[:limit]

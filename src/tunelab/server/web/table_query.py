"""What an experiments table shows, read from its URL and written back into links.

Everything the table's layout holds (filters, sort, extra columns, page) is in the query
string, so a table's URL is stable: bookmarks, reloads and the back button find it again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from tunelab.errors import InvalidInput
from tunelab.store.task_columns import Column, parse_columns
from tunelab.store.task_filters import parse_filters
from tunelab.store.task_listing import MAX_PAGE_SIZE, TaskQuery

DEFAULT_SORT = "-last_update"
DEFAULT_PAGE_SIZE = 50
# Sorts whose first click shows the highest first: times and progress are read newest first.
DESCENDING_FIRST = frozenset({"started", "last_update", "created", "last_iteration"})


@dataclass(frozen=True)
class TableState:
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    q: str = ""
    archived: bool = False
    sort: str = DEFAULT_SORT
    cols: tuple[str, ...] = ()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    # Metric and hyperparameter filters (``task_filters``), set from the column headers.
    filters: tuple[str, ...] = ()
    # Deep pages: the cursor of the page before (``page`` is then only the number shown).
    after: str = ""

    @classmethod
    def from_params(cls, params: QueryParams) -> TableState:
        cols = tuple(c.strip() for c in params.get("cols", "").split(",") if c.strip())
        state = cls(
            statuses=_values(params, "status"),
            types=_values(params, "type"),
            tags=_values(params, "tag"),
            q=params.get("q", "").strip(),
            archived=params.get("archived", "") == "true",
            sort=params.get("sort", "").strip() or DEFAULT_SORT,
            cols=tuple(c.key for c in parse_columns(cols)),
            page=_number(params, "page", 1),
            page_size=_number(params, "page_size", DEFAULT_PAGE_SIZE),
            filters=tuple(
                f.text for f in parse_filters([*_values(params, "filter"), *_header(params)])
            ),
            after=params.get("after", "").strip(),
        )
        if not 1 <= state.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return state

    @property
    def columns(self) -> list[Column]:
        return parse_columns(self.cols)

    def task_query(self, project: str | None) -> TaskQuery:
        return TaskQuery(
            project=project,
            statuses=self.statuses,
            types=self.types,
            tags=self.tags,
            search=self.q or None,
            archived="true" if self.archived else "false",
            order_by=self.sort,
            page=1 if self.after else self.page,
            page_size=self.page_size,
            filters=self.filters,
            after=self.after or None,
        )

    def query_string(self, **changes: Any) -> str:
        """This state's query string, with ``changes`` applied; defaults are left out."""
        if "page" in changes and "after" not in changes:
            changes["after"] = ""  # a page by number, or the first of a new layout
        state = replace(self, **changes)
        pairs: list[tuple[str, str]] = []
        pairs += [("status", s) for s in state.statuses]
        pairs += [("type", t) for t in state.types]
        pairs += [("tag", t) for t in state.tags]
        if state.q:
            pairs.append(("q", state.q))
        if state.archived:
            pairs.append(("archived", "true"))
        if state.sort != DEFAULT_SORT:
            pairs.append(("sort", state.sort))
        if state.cols:
            pairs.append(("cols", ",".join(state.cols)))
        pairs += [("filter", f) for f in state.filters]
        if state.after:
            pairs.append(("after", state.after))
        if state.page != 1:
            pairs.append(("page", str(state.page)))
        if state.page_size != DEFAULT_PAGE_SIZE:
            pairs.append(("page_size", str(state.page_size)))
        # "/" and "," stay readable in the address bar.
        return urlencode(pairs, safe="/,")

    def url(self, base: str, **changes: Any) -> str:
        query = self.query_string(**changes)
        return f"{base}?{query}" if query else base

    def sort_url(self, base: str, key: str, *, descending_first: bool | None = None) -> str:
        """The URL sorting by ``key``: flips the direction of the current sort, else starts
        descending for times and ascending for the rest, or as ``descending_first`` says (a
        metric starts best first: descending where higher is better)."""
        if descending_first is None:
            descending_first = key in DESCENDING_FIRST
        if self.sort == key:
            sort = f"-{key}"
        elif self.sort == f"-{key}":
            sort = key
        else:
            sort = f"-{key}" if descending_first else key
        return self.url(base, sort=sort, page=1)

    def sorted_as(self, key: str) -> str:
        """``ascending``/``descending`` when sorted by ``key`` (for ``aria-sort``), else ""."""
        if self.sort == key:
            return "ascending"
        if self.sort == f"-{key}":
            return "descending"
        return ""

    def with_column(self, base: str, key: str) -> str:
        if key in self.cols:
            return self.url(base)
        return self.url(base, cols=(*self.cols, key))

    def without_filter(self, base: str, text: str) -> str:
        return self.url(base, filters=tuple(f for f in self.filters if f != text), page=1)

    def without_column(self, base: str, key: str) -> str:
        cols = tuple(c for c in self.cols if c != key)
        # A sort by the column removed goes back to the default sort.
        sort = DEFAULT_SORT if self.sort.lstrip("-") == key else self.sort
        return self.url(base, cols=cols, sort=sort, page=1)


def _values(params: QueryParams, name: str) -> tuple[str, ...]:
    """A repeatable parameter's values, blanks dropped, each once."""
    return tuple(dict.fromkeys(v.strip() for v in params.getlist(name) if v.strip()))


def _header(params: QueryParams) -> list[str]:
    """The filter a column header's form sends as parts: column, operator, value(s)."""
    column, op = params.get("fcol", "").strip(), params.get("fop", "").strip()
    if not column or not op:
        return []
    low, high = params.get("fval", "").strip(), params.get("fval2", "").strip()
    if op == "between":
        return [f"{column} between {low} and {high}"]
    if op in ("is set", "is not set"):
        return [f"{column} {op}"]
    return [f"{column} {op} {low}"]


def _number(params: QueryParams, name: str, default: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"{name} must be a whole number of 1 or more, got {text!r}")
    return int(text)

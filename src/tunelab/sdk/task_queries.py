"""``Task.get_task`` / ``Task.get_tasks`` filters, as ClearML scripts write them, mapped to the
task listing's query (``GET /api/v1/tasks``).

Example::

    Task.get_tasks(project_name="vision", tags=["best", "-debug"],
                   task_filter={"status": ["completed"], "order_by": ["-last_update"]})

``tags``: a task with any of the tags (``"__$all"`` first: with all of them); ``"-tag"``
leaves out tasks with that tag. ``task_filter`` keys: ``status`` (ClearML's ``created`` and
``in_progress`` are ``draft`` and ``running``), ``type``, ``tags``, ``system_tags``
(``["archived"]`` / ``["-archived"]``), ``order_by``, ``search_text``, ``page_size`` and
``page`` (one page only). Any other key raises ``NotImplementedError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunelab.sdk.transport import ApiClient, all_items

ALL_TAGS = "__$all"
PAGE_SIZE = 500
# ClearML's task statuses that Tunelab names otherwise.
_STATUSES = {"created": "draft", "in_progress": "running", "closed": "completed"}
FILTER_KEYS = (
    "status", "type", "tags", "system_tags", "order_by", "search_text", "page_size", "page",
)  # fmt: skip


@dataclass
class TaskSearch:
    """A listing query, plus the tag rules the API cannot say (any-of, none-of)."""

    query: dict[str, Any] = field(default_factory=dict)
    any_of: list[str] = field(default_factory=list)
    none_of: list[str] = field(default_factory=list)
    name: str = ""  # the listing searches names by part; a task_name is matched whole
    one_page: bool = False

    @property
    def keeps_all(self) -> bool:
        return not self.any_of and not self.none_of and not self.name

    def keeps(self, item: Mapping[str, Any]) -> bool:
        if self.name and item.get("name") != self.name:
            return False
        tags = set(item.get("tags") or ())
        if self.none_of and tags & set(self.none_of):
            return False
        return not self.any_of or bool(tags & set(self.any_of))


def task_search(
    project_name: str | None = None,
    task_name: str | None = None,
    tags: Sequence[str] | None = None,
    allow_archived: bool = True,
    task_filter: Mapping[str, Any] | None = None,
) -> TaskSearch:
    """The listing query for ClearML's ``get_tasks`` arguments."""
    wanted = dict(task_filter or {})
    unknown = sorted(set(wanted) - set(FILTER_KEYS))
    if unknown:
        raise NotImplementedError(
            f"task_filter keys {', '.join(unknown)} are not supported; "
            f"use {', '.join(FILTER_KEYS)}, or the API's filters (GET /api/v1/tasks?filter=...)"
        )
    search = TaskSearch(query={"order_by": "-created"})
    query = search.query
    if project_name:
        query["project"] = project_name
    if task_name:
        query["search"] = search.name = task_name
    if wanted.get("search_text"):
        query["search"] = str(wanted["search_text"])
    query["archived"] = "all" if allow_archived else "false"
    for tag in _names(wanted.get("system_tags")):
        if tag.lstrip("-") == "archived":
            query["archived"] = "false" if tag.startswith("-") else "true"
    if "status" in wanted:
        query["status"] = [_STATUSES.get(s, s) for s in _names(wanted["status"])]
    if "type" in wanted:
        query["type"] = _names(wanted["type"])
    if "order_by" in wanted:
        order = _names(wanted["order_by"])
        if order:
            query["order_by"] = order[0]
    if "page_size" in wanted or "page" in wanted:
        search.one_page = True
        query["page_size"] = int(wanted.get("page_size") or 500)
        query["page"] = int(wanted.get("page") or 0) + 1  # ClearML counts pages from 0
    _tag_rules(search, [*(tags or ()), *_names(wanted.get("tags"))])
    return search


def find_tasks(client: ApiClient, search: TaskSearch, limit: int | None = None) -> list[Any]:
    """The listing's items that pass the search's tag and name rules, in the listing's
    order; page after page until ``limit`` of them are found."""
    if search.one_page:
        items = client.list_tasks(**search.query)["items"]
        return [item for item in items if search.keeps(item)][:limit]
    if search.keeps_all:
        return all_items(client.list_tasks, limit, **search.query)
    kept: list[Any] = []
    page = 1
    while True:
        found = client.list_tasks(**search.query, page=page, page_size=PAGE_SIZE)
        kept.extend(item for item in found["items"] if search.keeps(item))
        if (limit and len(kept) >= limit) or page * PAGE_SIZE >= found["total"]:
            return kept[:limit] if limit else kept
        page += 1


def _tag_rules(search: TaskSearch, tags: list[str]) -> None:
    every = bool(tags) and tags[0] == ALL_TAGS
    wanted = [t for t in tags if t != ALL_TAGS and not t.startswith("-")]
    search.none_of = [t[1:] for t in tags if t.startswith("-") and len(t) > 1]
    if every or len(wanted) == 1:
        if wanted:
            search.query["tag"] = wanted  # the API keeps tasks with all of them
    else:
        search.any_of = wanted


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]

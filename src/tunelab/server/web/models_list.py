"""The models table (``/models``): every model the account may see, with filters, a sort,
pages, and bulk publish, archive, unarchive and delete.

Like the experiments table, its whole layout is in the query string and one fragment
(``models/_table.html``) answers htmx, re-fetched whole with the new URL pushed; the rows
refresh on ``models-changed``. A bulk action checks that the account may change every
model it names before it changes any, then applies the action model by model, each in its
own transaction, and says in one toast what was done and what was refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import QueryParams

from tunelab.errors import InvalidInput, TunelabError
from tunelab.server import access
from tunelab.server.api.deps import Conn
from tunelab.server.authorize import current_principal
from tunelab.server.db_gate import in_transaction
from tunelab.server.file_cleanup import delete_files
from tunelab.server.web.action_form import Form, id_list, plural
from tunelab.server.web.table_query import _number, _values
from tunelab.server.web.templating import PAGE_HEADER, is_htmx, render
from tunelab.server.web.visibility import visible_projects
from tunelab.store import model_listing, models
from tunelab.store.model_listing import MAX_PAGE_SIZE, ModelQuery

router = APIRouter(include_in_schema=False)

BASE = "/models"
DEFAULT_SORT = "-created"
DEFAULT_PAGE_SIZE = 50
# (label, sort key or "" for none), in the order the table shows them.
COLUMNS = (
    ("Name", "name"),
    ("Project", ""),
    ("Framework", "framework"),
    ("Tags", ""),
    ("Published", ""),
    ("Task", ""),
    ("Created", "created"),
)
DESCENDING_FIRST = frozenset({"created", "last_update"})
BULK_ACTIONS = {
    "publish": "Published",
    "archive": "Archived",
    "unarchive": "Unarchived",
    "delete": "Deleted",
}
NAMED_REFUSALS = 5


@dataclass(frozen=True)
class ModelTableState:
    q: str = ""
    framework: str = ""
    tags: tuple[str, ...] = ()
    published: str = ""  # "", "true" or "false"
    archived: bool = False
    sort: str = DEFAULT_SORT
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def from_params(cls, params: QueryParams) -> ModelTableState:
        published = params.get("published", "").strip()
        if published not in ("", "true", "false"):
            raise InvalidInput(f"published must be true or false, got {published!r}")
        state = cls(
            q=params.get("q", "").strip(),
            framework=params.get("framework", "").strip(),
            tags=_values(params, "tag"),
            published=published,
            archived=params.get("archived", "") == "true",
            sort=params.get("sort", "").strip() or DEFAULT_SORT,
            page=_number(params, "page", 1),
            page_size=_number(params, "page_size", DEFAULT_PAGE_SIZE),
        )
        if not 1 <= state.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        return state

    def model_query(self, visible: tuple[str, ...] | None) -> ModelQuery:
        return ModelQuery(
            tags=self.tags,
            framework=self.framework or None,
            published=None if not self.published else self.published == "true",
            archived="true" if self.archived else "false",
            search=self.q or None,
            order_by=self.sort,
            page=self.page,
            page_size=self.page_size,
            visible=visible,
        )

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.framework or self.tags or self.published or self.archived)

    def url(self, **changes: Any) -> str:
        """This table's URL with ``changes`` applied; defaults are left out."""
        state = replace(self, **changes)
        pairs: list[tuple[str, str]] = []
        if state.q:
            pairs.append(("q", state.q))
        if state.framework:
            pairs.append(("framework", state.framework))
        pairs += [("tag", t) for t in state.tags]
        if state.published:
            pairs.append(("published", state.published))
        if state.archived:
            pairs.append(("archived", "true"))
        if state.sort != DEFAULT_SORT:
            pairs.append(("sort", state.sort))
        if state.page != 1:
            pairs.append(("page", str(state.page)))
        if state.page_size != DEFAULT_PAGE_SIZE:
            pairs.append(("page_size", str(state.page_size)))
        query = urlencode(pairs, safe="/,")
        return f"{BASE}?{query}" if query else BASE

    def sort_url(self, key: str) -> str:
        if self.sort == key:
            sort = f"-{key}"
        elif self.sort == f"-{key}":
            sort = key
        else:
            sort = f"-{key}" if key in DESCENDING_FIRST else key
        return self.url(sort=sort, page=1)

    def sorted_as(self, key: str) -> str:
        if self.sort == key:
            return "ascending"
        if self.sort == f"-{key}":
            return "descending"
        return ""


@router.get("/models", response_class=HTMLResponse)
def models_table(request: Request, conn: Conn) -> HTMLResponse:
    state = ModelTableState.from_params(request.query_params)
    listing = model_listing.list_models(conn, state.model_query(visible_projects(request, conn)))
    context: dict[str, Any] = {
        "state": state,
        "base": BASE,
        "self_url": state.url(),
        "listing": listing,
        "items": listing["items"],
        "columns": COLUMNS,
        "bulk_actions": BULK_ACTIONS,
    }
    # The same URL answers a fragment or a page: caches must keep them apart.
    headers = {"Vary": "HX-Request"}
    if not is_htmx(request):
        return render(request, "models/page.html", context, headers=headers)
    if request.headers.get("HX-Target") == "model-table":
        headers["HX-Push-Url"] = context["self_url"]
    return render(request, "models/_table.html", context, headers=headers)


@router.post("/models/bulk")
async def bulk_action(request: Request, form: Form) -> Response:
    action = form.get("action")
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"unknown bulk action {action!r}: one of {', '.join(BULK_ACTIONS)}")
    ids = id_list(form.all("ids"))
    if not ids:
        raise InvalidInput("select one or more models first")
    # All or nothing on access: a model the account may not change refuses the whole request,
    # and says no more about it than a 403 or 404 would.
    names = await in_transaction(request, _writable_names, request, ids)
    done: list[str] = []
    refused: list[tuple[str, str]] = []
    files: list[str] = []
    for model_id in ids:
        try:
            files += await in_transaction(request, _apply, action, model_id)
        except TunelabError as exc:
            refused.append((names.get(model_id, model_id), exc.message))
        else:
            done.append(model_id)
    wanted = action == "delete" and form.checked("delete_files")
    cleanup = await delete_files(request, files if wanted else [])
    text = f"{BULK_ACTIONS[action]} {len(done)} of {plural(len(ids), 'model')}."
    if refused:
        named = "; ".join(f"{name} ({why})" for name, why in refused[:NAMED_REFUSALS])
        more = len(refused) - NAMED_REFUSALS
        text += f" Refused: {named}" + (f"; and {more} more." if more > 0 else ".")
    failed = cleanup["failed_files"]
    if failed:
        text += f" {plural(len(failed), 'file')} could not be deleted."
    kind = "ok" if not refused and not failed else ("warn" if done else "error")
    if not is_htmx(request):
        return RedirectResponse(BASE, status_code=303)
    trigger = {"models-changed": {"ids": done}, "toast": {"message": text, "kind": kind}}
    return Response(status_code=200, headers={"HX-Trigger": json.dumps(trigger), PAGE_HEADER: "1"})


def _writable_names(conn: sa.Connection, request: Request, ids: list[str]) -> dict[str, str]:
    who = current_principal(request)
    names: dict[str, str] = {}
    for model_id in ids:
        access.require_model(conn, who, model_id, access.WRITE)
        names[model_id] = models.get_model(conn, model_id)["name"]
    return names


def _apply(conn: sa.Connection, action: str, model_id: str) -> list[str]:
    if action == "delete":
        return models.delete_model(conn, model_id)
    if action == "publish":
        models.publish_model(conn, model_id)
    else:
        models.update_model(conn, model_id, {"archived": action == "archive"})
    return []

"""Reading the action forms' bodies, and the answer an action sends back to the page.

The fields come from ``posted_form`` (the body) and the query string (a modal's URL may
carry the ids it was opened for).

An action's answer is an empty 200 whose ``HX-Trigger`` tells the page what happened:
``tasks-changed`` (the table and the experiment page refresh), ``toast`` and
``close-modal``. A plain form post (no JavaScript) is sent back to a page instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from tunelab.server.web.posted_form import read_posted_form
from tunelab.server.web.templating import PAGE_HEADER, is_htmx


class FormFields:
    """Fields of an urlencoded body: ``get`` the first value, ``all`` of them."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0] if values else default

    def optional(self, name: str) -> str | None:
        """The field's value, or None when the form did not send it at all."""
        values = self._fields.get(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))

    def checked(self, name: str) -> bool:
        """A checkbox: sent (``on``, ``true``, ``1``) when ticked, absent when not."""
        return self.get(name).lower() in ("on", "true", "1", "yes")


async def _read_form(request: Request) -> FormFields:
    fields: dict[str, list[str]] = {}
    for name, value in (await read_posted_form(request)).multi_items():
        fields.setdefault(name, []).append(str(value))
    for name, value in request.query_params.multi_items():
        fields.setdefault(name, []).append(value)
    return FormFields(fields)


Form = Annotated[FormFields, Depends(_read_form)]


def id_list(values: Sequence[str]) -> list[str]:
    """Task ids from repeated fields and comma lists alike, each once, in order."""
    ids = (part.strip() for value in values for part in value.split(","))
    return list(dict.fromkeys(i for i in ids if i))


def changed(
    request: Request,
    ids: Sequence[str],
    message: str,
    *,
    kind: str = "ok",
    back_to: str = "/experiments",
    redirect: str | None = None,
) -> Response:
    """The answer to an action that changed tasks ``ids``; ``redirect`` sends the browser
    to another page (a clone to its draft, a deleted task's page to its project)."""
    if not is_htmx(request):
        return RedirectResponse(redirect or back_to, status_code=303)
    trigger: dict[str, Any] = {
        "tasks-changed": {"ids": list(ids)},
        "toast": {"message": message, "kind": kind},
        "close-modal": True,
    }
    # ensure_ascii (json's default): a task name in any script stays a latin-1 header.
    headers = {"HX-Trigger": json.dumps(trigger), PAGE_HEADER: "1"}
    if redirect:
        headers["HX-Redirect"] = redirect
    return Response(status_code=200, headers=headers)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def files_said(cleanup: dict[str, list[Any]], wanted: bool) -> tuple[str, bool]:
    """What became of the files (``server.file_cleanup``'s answer) as sentences for a toast,
    each starting with a space, and whether some could not be deleted."""
    if not wanted:
        return "", False
    deleted, failed = cleanup["deleted_files"], cleanup["failed_files"]
    if not deleted and not failed:
        return " There were no files to delete.", False
    text = f" {plural(len(deleted), 'file')} deleted." if deleted else ""
    if failed:
        shown = "; ".join(f"{f['uri']} ({f['error']})" for f in failed[:3])
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        text += f" {plural(len(failed), 'file')} could not be deleted: {shown}{more}."
    return text, bool(failed)

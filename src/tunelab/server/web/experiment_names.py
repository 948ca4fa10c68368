"""The experiment header's own edits: rename from the title, add and remove tag chips.

One form route, ``POST /experiments/{id}/annotate``, takes ``name``, ``add_tag`` or
``remove_tag``. Tags change in any status, the name in any but published (the store says
why otherwise, a 409 toast). The answer is an action's (``action_form.changed``): the page
hears ``tasks-changed`` and reads its header again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tunelab.errors import InvalidInput
from tunelab.server.api.deps import Conn
from tunelab.server.web.action_form import Form, changed
from tunelab.store import tasks
from tunelab.store.tags import MAX_TAG_LENGTH

router = APIRouter(include_in_schema=False)

MAX_NAME_LENGTH = 1024  # as the API's TaskName


@router.post("/experiments/{task_id}/annotate")
def annotate(task_id: str, request: Request, conn: Conn, form: Form) -> Response:
    name = form.optional("name")
    add = form.optional("add_tag")
    remove = form.optional("remove_tag")
    if name is not None:
        tasks.update_task(conn, task_id, {"name": checked_text(name, "name", MAX_NAME_LENGTH)})
        message = f"Renamed to {name.strip()}"
    elif add is not None or remove is not None:
        added = [checked_text(add, "tag", MAX_TAG_LENGTH)] if add is not None else []
        removed = [remove] if remove is not None else []
        tasks.retag(conn, task_id, add=added, remove=removed)
        message = f"Tagged {added[0]}" if added else f"Removed the tag {remove}"
    else:
        raise InvalidInput("send name, add_tag or remove_tag")
    back = f"/experiments/{task_id}/execution"
    return changed(request, [task_id], message, back_to=back)


def checked_text(value: str, what: str, longest: int) -> str:
    """``value`` without surrounding blanks; InvalidInput when empty, too long or holding
    a NUL (which no database column takes)."""
    text = value.strip()
    if not text or len(text) > longest or "\x00" in text:
        raise InvalidInput(f"a {what} is 1 to {longest} characters, without NUL")
    return text

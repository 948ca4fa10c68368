"""Reading a posted form: htmx and plain forms post urlencoded fields, read here without a
multipart parser (the pages post no files). A route takes ``PostedForm``, read before the
(synchronous) route runs in its worker thread."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from tunelab.errors import InvalidInput, PayloadTooLarge

# A page's form is some fields, a few ids, at most a configuration object's text.
MAX_FORM_BYTES = 4 * 1024 * 1024


async def read_posted_form(request: Request) -> FormData:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise InvalidInput(f"expected a form (application/x-www-form-urlencoded), got {kind}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"a form is at most {MAX_FORM_BYTES} bytes")
    fields: list[tuple[str, str | UploadFile]] = []
    fields += parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return FormData(fields)


PostedForm = Annotated[FormData, Depends(read_posted_form)]

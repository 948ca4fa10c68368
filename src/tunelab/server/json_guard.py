"""Refuse malformed input before any route reads it: text that is not UTF-8 (in the path,
the query string, a JSON or form body), JSON nested deeper than any real body is, and a NUL
character (U+0000) anywhere in them.

Without this, invalid UTF-8 in a path or query string reached the routes as U+FFFD
replacement characters (a search for mangled text answered 200), a form body's bad bytes were
stored as U+FFFD, and JSON nested past Python's recursion limit got only FastAPI's generic
"There was an error parsing the body". Each is now a 400 that says what is wrong.

PostgreSQL text cannot hold a NUL, so a NUL in a name, an id, a search or a form field was a
500 there and stored text on SQLite. It is refused here on both: ``%00`` in the path, the
query or a form, a NUL byte or a ``\u0000`` escape in a JSON body. Program output is the one
exception: a console batch keeps its lines, the store replaces a NUL in them with U+FFFD
(``store.console``); the batch's other fields are checked by its model.

Body problems are raised as an ``HTTPException`` from the ``receive`` the app reads the body
with, so the app's own error handlers answer (the JSON envelope under ``/api``, an error page
or toast for pages); path and query problems are answered here, before routing.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

import numpy as np
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunelab.errors import error_body
from tunelab.server.asgi_body import whole_body
from tunelab.server.mlflow.envelope import error_response as mlflow_error
from tunelab.server.mlflow.envelope import is_mlflow_path

# Real bodies (plots, artifact metadata, task records) nest a few levels; 128 leaves room
# and stays far below the ~1000 where Python's JSON parser gives up with a RecursionError.
MAX_JSON_DEPTH = 128

# Only these bytes matter to nesting; the rest is dropped before counting.
_NOT_MARKS = bytes(b for b in range(256) if b not in b'"[]{}')
_QUOTE = ord('"')
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
# Marks counted per numpy pass: memory stays a few MB whatever the body.
_CHUNK = 1 << 20

_NUL_ESCAPE = b"\\u0000"
# A high surrogate escape with the low one after it (a pair: 12 bytes), or either alone.
_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
# Bodies whose text may hold a NUL: console lines, program output stored as it came.
_NUL_KEPT = re.compile(r"/api/v1/tasks/[^/]+/console")


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp, max_json_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _url_problem(scope)
        if problem is not None:
            await _refuse(scope, receive, send, problem)
            return
        kind = _content_type(scope)
        if kind != "other":
            nul_kept = scope["method"] == "POST" and _NUL_KEPT.fullmatch(scope["path"]) is not None
            receive = self._checked_receive(receive, kind, nul_kept)
        await self.app(scope, receive, send)

    def _checked_receive(self, receive: Receive, kind: str, nul_kept: bool) -> Receive:
        """A ``receive`` that gathers the whole body on the first call (the app reads all of
        a JSON or form body anyway; the body-size limit sits outside this), checks it, and
        hands it on as one message."""
        done = False

        async def checked() -> Message:
            nonlocal done
            if done:
                return await receive()
            done = True
            body = await whole_body(receive)
            if body is None:
                return {"type": "http.disconnect"}
            problem = _body_problem(body, kind, self.max_json_depth, nul_kept)
            if problem is not None:
                raise HTTPException(400, problem)
            return {"type": "http.request", "body": body, "more_body": False}

        return checked


def _content_type(scope: Scope) -> str:
    """The body's kind: json, form or other. A page reads a body without a Content-Type as
    a form (``web.posted_form``), so it is checked as one; the API reads such a body as
    bytes, never as JSON."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            if media == b"application/json" or media.endswith(b"+json"):
                return "json"
            if media == b"application/x-www-form-urlencoded":
                return "form"
            return "other"
    return "other" if scope["path"].startswith("/api/") else "form"


def _body_problem(body: bytes, kind: str, max_depth: int, nul_kept: bool) -> str | None:
    if kind == "form":
        return _form_problem(body)
    problem = _json_problem(body, max_depth)
    if problem is None and not nul_kept and _holds_nul(body):
        return "the JSON body holds a NUL character (\\u0000), which no stored text may hold"
    if problem is None and _holds_lone_surrogate(body):
        return (
            "the JSON body holds half of a surrogate pair (an escape such as \\ud800 without "
            "its other half), which is no character: UTF-8 and the store cannot hold it"
        )
    return problem


def _url_problem(scope: Scope) -> str | None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    path = unquote_to_bytes(raw_path.split(b"?")[0])
    if not _is_utf8(path):
        return "the URL's path is not valid UTF-8 once percent-decoded"
    if b"\x00" in path:
        return "the URL's path holds a NUL character (%00), which no name or id may hold"
    query: bytes = scope.get("query_string", b"")
    if query:
        decoded = unquote_to_bytes(query.replace(b"+", b" "))
        if not _is_utf8(decoded):
            return "the URL's query string is not valid UTF-8 once percent-decoded"
        if b"\x00" in decoded:
            return "the URL's query string holds a NUL character (%00), which no value may hold"
    return None


def _json_problem(body: bytes, max_depth: int) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the request body is not valid UTF-8 (byte {body[exc.start]:#04x} at {exc.start})"
    if body.count(b"[") + body.count(b"{") <= max_depth:
        # No deeper than its openers, strings' brackets included: most bodies end here,
        # without the numpy passes that cost more than a small body's whole request.
        return None
    depth = _json_depth(body)
    if depth > max_depth:
        return f"the JSON body is nested {depth} levels deep; at most {max_depth} are allowed"
    return None


def _json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted.

    Escapes go first (``\\\\`` pairs, then ``\\"``, left to right as a parser reads them), then
    every byte but quotes and brackets; what is left is counted in numpy passes: a bracket
    is outside strings when an even number of quotes precedes it."""
    plain = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = plain.translate(None, _NOT_MARKS)
    depth = deepest = 0
    in_string = 0
    for start in range(0, len(marks), _CHUNK):
        codes = np.frombuffer(marks[start : start + _CHUNK], dtype=np.uint8)
        quote = codes == _QUOTE
        quotes_before = np.cumsum(quote, dtype=np.int64) - quote + in_string
        outside = (quotes_before % 2 == 0) & ~quote
        steps = np.where(outside, np.where(np.isin(codes, _OPENERS), 1, -1), 0)
        running = np.cumsum(steps, dtype=np.int64) + depth
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
        in_string = int(quotes_before[-1] + quote[-1]) % 2
    return deepest


def _holds_lone_surrogate(body: bytes) -> bool:
    """A ``\\uD800`` to ``\\uDFFF`` escape not in a high-then-low pair: valid JSON that a parser
    reads as half a character. An escape counts only after an even run of backslashes."""
    if b"\\u" not in body:
        return False
    for found in _SURROGATE_ESCAPE.finditer(body):
        whole_pair = len(found.group()) == 12
        if _escaped(body, found.start()):
            # The text "\\u…", not an escape; the low half of a "pair", though, is one.
            if whole_pair:
                return True
            continue
        if not whole_pair:
            return True
    return False


def _escaped(body: bytes, at: int) -> bool:
    """Whether the backslash at ``at`` is itself escaped: an odd run of backslashes before."""
    start = at
    while start > 0 and body[start - 1] == 0x5C:
        start -= 1
    return (at - start) % 2 == 1


def _holds_nul(body: bytes) -> bool:
    """A NUL byte, or a ``\\u0000`` escape that a JSON parser reads as one: preceded by an
    even number of backslashes (``\\\\u0000`` is a backslash and the text ``u0000``)."""
    if b"\x00" in body:
        return True
    at = body.find(_NUL_ESCAPE)
    while at != -1:
        if not _escaped(body, at):
            return True
        at = body.find(_NUL_ESCAPE, at + len(_NUL_ESCAPE))
    return False


def _form_problem(body: bytes) -> str | None:
    fields = unquote_to_bytes(body.replace(b"+", b" "))
    if not _is_utf8(fields):
        return "the form's fields are not valid UTF-8 once percent-decoded"
    if b"\x00" in fields:
        return "the form holds a NUL character (%00), which no field may hold"
    return None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    """A 400 the way the app's error handlers would answer it: the JSON envelope under
    ``/api``, MLflow's envelope under ``/mlflow`` (its client reads ``error_code``), the
    error page elsewhere (the envelope if that page cannot be drawn here)."""
    request = Request(scope, receive)
    if is_mlflow_path(scope["path"]):
        await mlflow_error(error_body("invalid_input", message), 400)(scope, receive, send)
        return
    if not scope["path"].startswith("/api/"):
        from tunelab.server.web.errors import error_page

        try:
            response = error_page(request, 400, "invalid_input", message)
        except Exception:  # the page's template wants state the app sets later: plain JSON
            response = None
        if response is not None:
            await response(scope, receive, send)
            return
    body = json.dumps(error_body("invalid_input", message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})

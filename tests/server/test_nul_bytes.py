"""A NUL character (U+0000) anywhere a request carries text: PostgreSQL text cannot hold one,
so each is refused with a 400 before it reaches the store, on both databases alike; only a
console line, program output, keeps its NUL, replaced by U+FFFD.

Probes are built from the application's own routes (``access_world.app_routes``) and the
access matrix's requests: a NUL in every path parameter, in every declared query parameter,
in every string (and key) of every JSON body the matrix sends, in every field of every page
form, and in the login form of a visitor not signed in. All are sent by the admin (or a
visitor), so access never stops one before the store would see it.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.server import access_world as aw
from tests.server.access_requests import (
    RAW_BODIES,
    fill_path,
    fill_query,
    form_fields,
    json_bodies,
    minimal_body,
    path_value,
)
from tests.server.access_world import World
from tunelab.server.app import create_app
from tunelab.server.settings import ServerSettings
from tunelab.server.web import action_form
from tunelab.server.web.posted_form import read_posted_form
from tunelab.store.engine import sqlite_url

NUL = "nul\x00here"
ADMIN = "root"
ROUTES = aw.app_routes()


def _form_readers() -> frozenset[tuple[str, str]]:
    """(method, path) of the pages that read a posted form: a field of a page that reads
    none reaches nothing, so only these are probed with one."""
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        settings = ServerSettings(data_dir=data_dir, database_url=sqlite_url(data_dir))
        app = create_app(settings)
        app.state.engine.dispose()
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        # An included router's routes, or a route of the flat list (``server.flat_routes``).
        if isinstance(route, APIRoute):
            contexts: Any = [route]
        else:
            contexts = getattr(route, "effective_route_contexts", lambda: ())()
        for context in contexts:
            if _calls(context.dependant, _READERS):
                found.update((method, context.path) for method in context.methods)
    return frozenset(found)


# The dependencies that read a posted form: the form itself, and an action's fields.
_READERS = (read_posted_form, get_args(action_form.Form)[1].dependency)


def _calls(dependant: Any, functions: tuple[Any, ...]) -> bool:
    return dependant.call in functions or any(_calls(d, functions) for d in dependant.dependencies)


FORM_READERS = _form_readers()
CONSOLE = ("POST", "/api/v1/tasks/{task_id}/console")

world = aw.world


@pytest.fixture(scope="module")
def admin(world: World) -> Iterator[httpx.Client]:
    with aw.api_client(world, world.keys[ADMIN]) as client:
        yield client


@pytest.fixture(scope="module")
def admin_pages(world: World) -> Iterator[httpx.Client]:
    web = aw.session_client(world.url, ADMIN)
    yield web
    web.close()


def _probe(send: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> str | None:
    """``send(*args, **kwargs)``: None when it is refused as it should be, else what happened."""
    try:
        return _refused(send(*args, **kwargs))
    except httpx.HTTPError as exc:  # the server dropped the connection: an unhandled error
        return f"no answer: {exc!r}"


def _refused(answer: httpx.Response) -> str | None:
    """None for a 4xx that says why (the JSON envelope under /api), else what is wrong."""
    if not 400 <= answer.status_code < 500:
        return f"{answer.status_code} {answer.text[:200]!r}"
    if answer.request.url.path.startswith("/mlflow/") and answer.request.method != "HEAD":
        try:
            named = answer.json()
        except ValueError:
            named = None
        if not isinstance(named, dict) or not named.get("error_code") or not named.get("message"):
            return f"{answer.status_code} without MLflow's error envelope: {answer.text[:200]!r}"
    if answer.request.url.path.startswith("/api/") and answer.request.method != "HEAD":
        try:
            error = answer.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = None
        if not isinstance(error, dict) or not error.get("message"):
            return f"{answer.status_code} without the error envelope: {answer.text[:200]!r}"
    return None


def _report(problems: list[str], sent: int) -> str:
    return f"{len(problems)} of {sent} probes not refused:\n" + "\n".join(problems)


def _send(
    world: World,
    api: httpx.Client,
    pages: httpx.Client,
    route: aw.Route,
    url: str,
    params: dict[str, str],
) -> httpx.Response:
    """``route`` at ``url`` with what the access matrix sends it (its body or form)."""
    if "upload_id" in route.params:
        aw.fresh_upload(world, api)
    kwargs: dict[str, Any] = {"params": params}
    if route.api and route.writes:
        key = (route.method, route.template)
        if key in RAW_BODIES:
            content, kind = RAW_BODIES[key]
            kwargs.update(content=content, headers={"Content-Type": kind})
        elif route.json_body:
            body = json_bodies(world, ADMIN).get(key)
            kwargs["json"] = minimal_body(world, route) if body is None else body
    elif route.writes:
        token = aw.csrf_of(pages)
        kwargs["data"] = {**form_fields(world, ADMIN, route), "csrf_token": token}
        kwargs["headers"] = {"X-CSRF-Token": token, "HX-Request": "true"}
    return (api if route.api else pages).request(route.method, url, **kwargs)


def test_a_nul_in_any_path_parameter_is_refused(
    world: World, admin: httpx.Client, admin_pages: httpx.Client
) -> None:
    problems: list[str] = []
    sent = 0
    for route in ROUTES:
        for param in route.params:

            def value(match: Any, nul_in: str = param, route: aw.Route = route) -> str:
                name = match.group(1)
                text = NUL if name == nul_in else path_value(world, ADMIN, route, name)
                return quote(text, safe="/")

            url = aw.PARAM.sub(value, route.path)
            params = fill_query(world, route)
            sent += 1
            problem = _probe(_send, world, admin, admin_pages, route, url, params)
            if problem is not None:
                problems.append(f"{route.label} {{{param}}}: {problem}")
    assert sent >= 100
    assert not problems, _report(problems, sent)


def test_a_nul_in_any_query_parameter_is_refused(
    world: World, admin: httpx.Client, admin_pages: httpx.Client
) -> None:
    problems: list[str] = []
    sent = 0
    for route in ROUTES:
        for name, _ in route.query:
            params = {**fill_query(world, route), name: NUL}
            url = fill_path(world, ADMIN, route)
            sent += 1
            problem = _probe(_send, world, admin, admin_pages, route, url, params)
            if problem is not None:
                problems.append(f"{route.label} ?{name}: {problem}")
    assert sent >= 20
    assert not problems, _report(problems, sent)


def _with_nul(body: Any) -> Iterator[tuple[str, Any]]:
    """The body once per string in it (values and object keys), that string given a NUL."""
    if isinstance(body, str):
        yield "", body + NUL
    elif isinstance(body, list):
        for i, item in enumerate(body):
            for where, changed in _with_nul(item):
                yield f"[{i}]{where}", [*body[:i], changed, *body[i + 1 :]]
    elif isinstance(body, dict):
        for key, item in body.items():
            renamed = {(k + NUL if k == key else k): v for k, v in body.items()}
            yield f".{key} (key)", renamed
            for where, changed in _with_nul(item):
                yield f".{key}{where}", {**body, key: changed}


def test_a_nul_in_any_string_of_a_json_body_is_refused(world: World, admin: httpx.Client) -> None:
    bodies = json_bodies(world, ADMIN)
    problems: list[str] = []
    sent = 0
    for route in ROUTES:
        key = (route.method, route.template)
        if not (route.api and route.writes and route.json_body) or key in RAW_BODIES:
            continue
        if key == CONSOLE:
            continue  # program output: the next test
        body = bodies.get(key)
        body = minimal_body(world, route) if body is None else body
        for where, changed in _with_nul(copy.deepcopy(body)):
            if "upload_id" in route.params:
                aw.fresh_upload(world, admin)
            url = fill_path(world, ADMIN, route)
            params = fill_query(world, route)
            sent += 1
            problem = _probe(admin.request, route.method, url, params=params, json=changed)
            if problem is not None:
                problems.append(f"{route.label} body{where}: {problem}")
    assert sent >= 40
    assert not problems, _report(problems, sent)


def test_a_nul_escape_is_refused_where_a_parser_would_see_one(
    world: World, admin: httpx.Client
) -> None:
    """``\\u0000`` is a NUL once decoded; ``\\\\u0000`` is a backslash and text, and stays."""
    for text, status in (
        ('{"name": "a\\u0000b", "project": "p"}', 400),
        ('{"name": "a\\\\u0000b", "project": "nul-free"}', 201),
        ('{"name": "a\\\\\\u0000b", "project": "p"}', 400),
    ):
        answer = admin.post(
            "/api/v1/tasks", content=text, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == status, (text, answer.text)
    made = admin.get("/api/v1/tasks", params={"project": "nul-free"}).json()["items"]
    assert [task["name"] for task in made] == ["a\\u0000b"]


def test_a_form_sent_without_a_content_type_is_checked_all_the_same(
    world: World, admin: httpx.Client, admin_pages: httpx.Client
) -> None:
    """A page reads a body without a Content-Type as a form, so it is checked as one; the
    API reads such a body as bytes (a file's), stored as they are whatever text they hold."""
    token = aw.csrf_of(admin_pages)
    answer = admin_pages.post(
        "/account/tokens",
        content=f"name=nameless%00key&csrf_token={token}".encode(),
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    content = b'{"text": "a\\u0000b", "nul": "\x00", "deep": ' + b"[" * 500 + b"]" * 500 + b"}"
    key = f"{aw.PROJECT_A}/{aw.A_TASK}.{world.task}/artifacts/raw/unlabelled.json"
    assert admin.put(f"/api/v1/files/{key}", content=content).status_code == 201
    assert admin.get(f"/api/v1/files/{key}").content == content


def test_console_lines_keep_their_nul_as_a_replacement_character(
    world: World, admin: httpx.Client
) -> None:
    """Program output is stored whatever it holds: a NUL becomes U+FFFD, on both databases;
    the batch's own fields are refused like any other text."""
    url = f"/api/v1/tasks/{world.task}/console"
    line = {"stream": "stdout", "text": "before\x00after", "ts": 5.0}
    answer = admin.post(url, json={"lines": [line], "batch_id": "nul-lines"})
    assert answer.status_code == 200, answer.text
    texts = [entry["text"] for entry in admin.get(url).json()["lines"]]
    assert "before\ufffdafter" in texts
    refused = admin.post(url, json={"lines": [line], "batch_id": "nul\x00batch"})
    assert _refused(refused) is None, refused.text
    refused = admin.post(url, json={"lines": [{**line, "stream": "std\x00out"}]})
    assert _refused(refused) is None, refused.text


def test_a_nul_in_any_page_form_field_is_refused(world: World, admin_pages: httpx.Client) -> None:
    problems: list[str] = []
    sent = 0
    for route in ROUTES:
        if not route.writes or (route.method, route.path) not in FORM_READERS:
            continue
        if route.path == "/login":  # a visitor's form: the next test
            continue
        form = form_fields(world, ADMIN, route)
        token = aw.csrf_of(admin_pages)
        for field in form:
            changed = {**form, field: form[field] + NUL, "csrf_token": token}
            sent += 1
            problem = _probe(
                admin_pages.request,
                route.method,
                fill_path(world, ADMIN, route),
                params=fill_query(world, route),
                data=changed,
                headers={"X-CSRF-Token": token, "HX-Request": "true"},
            )
            if problem is not None:
                problems.append(f"{route.label} form {field}: {problem}")
    assert sent >= 20
    assert not problems, _report(problems, sent)


@pytest.mark.parametrize("field", ["name", "password", "next"])
def test_a_nul_in_the_login_form_of_a_visitor_is_refused(world: World, field: str) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as visitor:
        visitor.get("/login")
        form = {"name": ADMIN, "password": aw.PASSWORD, "next": "/"}
        form[field] += NUL
        answer = visitor.post("/login", data={**form, "csrf_token": aw.csrf_of(visitor)})
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
        assert "tunelab_session" not in visitor.cookies


def test_a_nul_in_a_header_that_names_a_user_is_refused(world: World) -> None:
    """A key or session cookie is only ever compared by its hash: a NUL in one is a key
    that does not exist (401), not an error."""
    with httpx.Client(base_url=world.url, timeout=30) as visitor:
        answer = visitor.get("/api/v1/tasks", headers={"Cookie": 'tunelab_session="a\\000b"'})
        assert answer.status_code == 401, answer.text
        answer = visitor.get("/api/v1/tasks", headers={"Authorization": "Bearer tl_%00"})
        assert answer.status_code == 401, answer.text
        body = json.loads(answer.text)
        assert body["error"]["code"]

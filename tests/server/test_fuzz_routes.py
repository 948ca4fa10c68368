"""A property-based fuzz of the routes the OpenAPI document leaves out: the web app's pages
and forms, and MLflow's tracking API (``tests.server.test_fuzz_openapi`` covers the rest).

Each route starts from the request the access matrix sends (``tests.server.access_requests``):
team-a's real things in the path and query, a body or form that would succeed. Hypothesis then
changes it: a path parameter or query value swapped for hostile text (traversal, huge or
negative numbers, markup, a 5,000-character string), undeclared query parameters the pages
read, a JSON body with fields dropped, retyped or added (deep values, integers past 64 bits),
or not an object at all, a page form with hostile values and extra fields. Everything is sent
by the admin (signed in, with the CSRF token, as the web app sends it), so access never stops
a request before the route's own work.

No answer may be a 5xx or carry a traceback, and every MLflow refusal is MLflow's own error
envelope (``{"error_code", "message"}``): the MLflow client reads it. It runs once on SQLite
and once on PostgreSQL (the world's fixture). CI runs a few examples per route with a fixed
seed; ``TUNELAB_FUZZ_EXAMPLES`` and ``TUNELAB_FUZZ_SEED`` make a longer, different run.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import strategies as st

from tests.fuzzing import examples, fuzz
from tests.server import access_world as aw
from tests.server.access_requests import (
    RAW_BODIES,
    fill_path,
    fill_query,
    form_fields,
    json_bodies,
    path_value,
)
from tests.server.access_world import World

world = aw.world

EXAMPLES = examples(6)
MLFLOW = "/mlflow/"
# Signing out ends the session the fuzz sends with; the login form is a visitor's.
LEFT_OUT = frozenset({("POST", "/logout")})
DESTROYS = re.compile(r"/(delete|remove|unlink|disable|revoke|reset)$").search

# Query parameters the pages read without declaring them (table layouts, commit views, lists).
PAGE_QUERY = (
    "status", "type", "tag", "q", "archived", "sort", "cols", "page", "page_size", "filter",
    "after", "group", "branch", "skipped", "cursor", "list", "framework", "published",
    "project", "ids", "title", "series", "iteration", "next", "edit", "new", "seen",
)  # fmt: skip
# Fields the pages' forms read, beyond the ones each form is sent with.
FORM_FIELDS = (
    "action", "ids", "name", "value", "text", "project", "queue", "sort", "cols", "kind",
    "metric", "variant", "direction", "role", "user", "branch", "commit", "url", "to",
    "config_text", "tag", "title", "where", "objective", "strategy", "param", "target",
    "delete_artifacts", "password", "default_branch", "labels", "runner", "type",
)  # fmt: skip
# Fields of MLflow's messages, to add where a body lacks them.
MLFLOW_FIELDS = (
    "run_id", "run_uuid", "experiment_id", "experiment_ids", "name", "new_name", "key",
    "value", "timestamp", "step", "metrics", "params", "tags", "filter", "filter_string",
    "max_results", "page_token", "order_by", "status", "end_time", "version", "alias",
    "stage", "source", "model_id", "models", "run_view_type", "description",
)  # fmt: skip

# Markup that runs if a page writes it unescaped, stored or reflected.
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = st.sampled_from(
    [
        "", " ", ".", "..", "../../../etc/passwd", "/", "//", "a/../../b", "%2e%2e%2f",
        "-1", "0", "1e309", "nan", "-inf", "99999999999999999999999", str(2**63), "0x10",
        "true", "null", "[]", "{}", "a,b,,c", "💥", SCRIPT, f"x\"'>{IMAGE}", "javascript:alert(1)",
        "' OR 1=1 --", "metrics.loss > 'x'", "attributes.status = RUNNING", "\n\t", "x" * 5_000,
    ]
)  # fmt: skip
# Any text that can travel in a URL or a form: no lone surrogates (UTF-8 cannot carry them).
TEXT = st.one_of(HOSTILE_TEXT, st.text(st.characters(codec="utf-8"), max_size=40))
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@dataclass
class Senders:
    api: httpx.Client  # the admin's key
    pages: httpx.Client  # the admin's browser, signed in
    visitor: httpx.Client  # a browser not signed in, for the login form


@pytest.fixture(scope="module")
def senders(world: World) -> Iterator[Senders]:
    made = Senders(
        aw.api_client(world, world.keys["root"]),
        aw.session_client(world.url, "root"),
        httpx.Client(base_url=world.url, timeout=30),
    )
    yield made
    for client in (made.api, made.pages, made.visitor):
        client.close()


def _fuzzed_routes(world: World) -> list[aw.Route]:
    in_document = {
        (method.upper(), path) for path, ops in world.openapi["paths"].items() for method in ops
    }
    routes = [
        route
        for route in aw.app_routes()
        if (route.method, route.template) not in in_document
        and (route.method, route.path) not in LEFT_OUT
        and route.path not in aw.DOCUMENTATION
    ]
    # What deletes team-a's things (or a task's outputs) goes last: every other route meets
    # them still there.
    return sorted(routes, key=lambda route: route.method == "DELETE" or bool(DESTROYS(route.path)))


def _path(world: World, route: aw.Route, data: st.DataObject) -> str:
    def value(param: str) -> str:
        text = path_value(world, "root", route, param)
        # Mostly the real thing, so the fuzz gets past "not found" into the route's work.
        if data.draw(st.integers(0, 3), label=f"hostile {param}") == 0:
            text = data.draw(TEXT, label=param)
        # A ``{name:path}`` parameter holds slashes; any other has them encoded.
        return quote(text, safe="/" if f"{{{param}:path}}" in route.path else "") or "%20"

    return aw.PARAM.sub(lambda match: value(match.group(1)), route.path)


def _query(world: World, route: aw.Route, data: st.DataObject) -> dict[str, str]:
    query = fill_query(world, route)
    for name in list(query):
        if data.draw(st.booleans(), label=f"change {name}"):
            query[name] = data.draw(TEXT, label=name)
    if not route.api:
        extra = data.draw(st.lists(st.sampled_from(PAGE_QUERY), max_size=4, unique=True))
        query.update({name: data.draw(TEXT, label=name) for name in extra})
    return query


def _json_body(base: Any, data: st.DataObject) -> Any:
    if not isinstance(base, dict) or data.draw(st.integers(0, 9), label="whole body") == 0:
        return data.draw(JSON_VALUE, label="body")
    body = dict(base)
    for name in list(body):
        change = data.draw(st.sampled_from(["keep", "keep", "drop", "retype"]), label=name)
        if change == "drop":
            del body[name]
        elif change == "retype":
            body[name] = data.draw(JSON_VALUE, label=name)
    for name in data.draw(st.lists(st.sampled_from(MLFLOW_FIELDS), max_size=3, unique=True)):
        body[name] = data.draw(JSON_VALUE, label=f"added {name}")
    return body


def _form(base: dict[str, str], data: st.DataObject) -> dict[str, str]:
    form = {
        name: data.draw(TEXT, label=name) if data.draw(st.booleans()) else value
        for name, value in base.items()
    }
    for name in data.draw(st.lists(st.sampled_from(FORM_FIELDS), max_size=4, unique=True)):
        form[name] = data.draw(TEXT, label=f"added {name}")
    return form


def _send(world: World, senders: Senders, route: aw.Route, data: st.DataObject) -> httpx.Response:
    pages = senders.pages
    client = senders.api if route.api else senders.visitor if route.path == "/login" else pages
    url = _path(world, route, data)
    kwargs: dict[str, Any] = {"params": _query(world, route, data), "headers": {}}
    key = (route.method, route.template)
    if key in RAW_BODIES:
        kwargs["content"] = data.draw(st.binary(max_size=64), label="content")
        kwargs["headers"]["Content-Type"] = RAW_BODIES[key][1]
    elif route.writes and route.json_body:
        base = json_bodies(world, "root").get(key, {})
        kwargs["content"] = json.dumps(_json_body(base, data))
        kwargs["headers"]["Content-Type"] = "application/json"
    elif route.writes and not route.api:
        token = aw.csrf_of(pages)
        kwargs["data"] = {**_form(form_fields(world, "root", route), data), "csrf_token": token}
        kwargs["headers"].update({"X-CSRF-Token": token, "HX-Request": "true"})
    return client.request(route.method, url, timeout=30, **kwargs)


def _check(route: aw.Route, response: httpx.Response) -> None:
    said = f"{route.label} -> {response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{said}: {response.status_code}\n{response.text[:2000]}"
    assert "Traceback (most recent call last)" not in response.text, said
    _no_markup(said, response)
    if route.path.startswith(MLFLOW) and response.status_code >= 400:
        envelope = response.json()
        assert set(envelope) >= {"error_code", "message"}, f"{said}: {envelope}"
        assert isinstance(envelope["message"], str) and envelope["error_code"].isupper(), said


def _no_markup(said: str, response: httpx.Response) -> None:
    """A page or fragment holds the hostile markup escaped, never as markup."""
    if response.headers.get("content-type", "").startswith("text/html"):
        for markup in (SCRIPT, IMAGE):
            assert markup not in response.text, f"{said}: {markup} unescaped"


def _sweep(world: World, senders: Senders, routes: list[aw.Route]) -> int:
    """Every page again, plainly: what the fuzz stored (names, tags, values) shows escaped."""
    pages = [r for r in routes if r.method == "GET" and not r.api and r.path != "/login"]
    for route in pages:
        url = fill_path(world, "root", route)
        response = senders.pages.get(url, params=fill_query(world, route))
        assert response.status_code < 500, f"{route.label}: {response.status_code}"
        _no_markup(route.label, response)
    return len(pages)


def _request(world: World, senders: Senders, route: aw.Route, data: st.DataObject) -> None:
    _check(route, _send(world, senders, route, data))


def test_markup_stored_in_every_kind_of_field_shows_escaped_on_every_page(
    world: World, senders: Senders
) -> None:
    """Team-a's draft, model and project get markup in each text a user writes (before the
    fuzz, which ends by deleting them); then every page of them is read."""
    api = senders.api
    task = f"/api/v1/tasks/{world.task}"
    writes = [
        api.patch(task, json={"name": f"run {IMAGE}", "comment": SCRIPT, "tags": [IMAGE]}),
        api.patch(f"{task}/hyperparameters", json={"Args": {IMAGE: {"value": SCRIPT}}}),
        api.patch(f"{task}/user_properties", json={IMAGE: {"value": SCRIPT}}),
        api.patch(f"{task}/configuration", json={IMAGE: {"text": SCRIPT}}),
        api.patch(f"/api/v1/models/{world.model}", json={"name": IMAGE, "comment": SCRIPT}),
        api.patch(f"/api/v1/projects/{world.project}", json={"description": SCRIPT}),
        api.post(
            f"{MLFLOW}api/2.0/mlflow/runs/set-tag",
            json={"run_id": world.task, "key": IMAGE, "value": SCRIPT},
        ),
    ]
    for answer in writes:
        assert answer.status_code == 200, f"{answer.request.url}: {answer.text[:300]}"
    assert _sweep(world, senders, _fuzzed_routes(world)) >= 60


def test_pages_and_mlflow_routes_give_no_server_error_to_hostile_input(
    world: World, senders: Senders
) -> None:
    routes = _fuzzed_routes(world)
    assert sum(r.path.startswith(MLFLOW) for r in routes) >= 40, "MLflow's routes went missing"
    assert sum(not r.api for r in routes) >= 100, "the pages went missing"
    failures: list[str] = []
    sent = 0
    started = time.monotonic()
    for route in routes:
        try:
            request = functools.partial(_request, world, senders, route)
            sent += fuzz(route.label, EXAMPLES, request)
        except (Exception, BaseExceptionGroup) as exc:
            # Hypothesis notes the request's draws: the shrunk example to replay.
            notes = "\n".join(getattr(exc, "__notes__", ()))
            failures.append(f"{route.label}:\n{exc}\n{notes}")
    print(f"fuzzed {len(routes)} routes with {sent} requests in {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)
    assert _sweep(world, senders, routes) >= 60
    # The fuzz kept its footing: the admin is still signed in and its key still works, so
    # every request above reached the routes' own work.
    assert senders.pages.get("/experiments").status_code == 200
    assert senders.api.get("/api/v1/users/me").json()["user"]["name"] == "root"

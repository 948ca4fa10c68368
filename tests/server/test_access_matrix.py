"""Who may do what, route by route: every API route and page the server has, tried without
credentials, by a viewer, by a member of another project, by a worker account and by the
admin, on team-a's own things (``tests.server.access_world``).

What a user relies on:
- without credentials nothing but the health check and the login page answers: the API
  says 401 (its JSON error envelope), a page sends the browser to the login page and back;
- a viewer of a project reads it, and every change they try is refused (403, or 404 for
  what they may not even see), leaving the project's data exactly as it was;
- a member of another project reads nothing of it and changes nothing in it; lists that
  name no project answer, but never with a thing of the other project in them;
- only an admin manages accounts; only a project's owner manages its members;
- none of these answers carries the project's data, not even in an error or a toast.

The routes are read from the application itself, so a new route is tried the next time this
runs; a route with a path parameter this file does not know how to fill fails (fill it in
``path_value``), as does one whose refusal comes too late (a 400 or 422 from checking the
body before the access: the route would have run for someone it should have refused).

One test per route, method and account (parametrized rather than one test collecting
failures): a failure names exactly the route and account, and ``-k`` reruns just that one.
They share one server and one world (module fixtures); a write that got through is
detected by comparing the world with its state before, which then becomes the state the
following tests compare with, so one hole fails one test rather than every later one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.server import access_world as aw
from tests.server.access_requests import (
    BULK,
    Clients,
    Sent,
    UnknownParameter,
    fill_path,
    fill_query,
    send,
)
from tests.server.access_world import World
from tunelab.domain.access import UserKind
from tunelab.server.authorize import PUBLIC_PATHS

ROUTES = aw.app_routes()

PUBLIC = frozenset({"/api/v1/health", "/login", "/logout"})
# Path parameters naming something that belongs to a project (an upload belongs to the
# task its file key names). The gate checks the first four itself (``server.authorize``).
PROJECT_PARAMS = frozenset({"task_id", "model_id", "project_id", "key", "upload_id"})
# Changes any signed-in account may make for itself, not to anything of a project's: a key of
# its own, and a queue (queues are shared by all projects and hold no data of their own;
# what waits in them is each project's). A 2xx is right for these.
OWN_WRITES = frozenset({("POST", "/api/v1/queues"), ("POST", "/account/tokens")})
# MLflow's searches are reads sent as POSTs (server.mlflow): judged as reads.
MLFLOW = "/mlflow/api/2.0/mlflow"
READ_POSTS = frozenset(
    {f"{MLFLOW}/runs/search", f"{MLFLOW}/experiments/search", f"{MLFLOW}/logged-models/search"}
)
# MLflow's error envelope (server.mlflow.envelope): its codes for Tunelab's.
MLFLOW_CODES = {
    "unauthorized": "UNAUTHENTICATED",
    "forbidden": "PERMISSION_DENIED",
    "not_found": "RESOURCE_DOES_NOT_EXIST",
}
# Query parameters that name another account: only an admin may ask so.
ADMIN_QUERY = frozenset({"user"})
MEMBERS = ("viewer-a", "owner-b")


def admin_only(route: aw.Route) -> bool:
    path = route.path
    if path.startswith("/api/v1/users") and path != "/api/v1/users/me":
        return True
    return path == "/admin" or path.startswith("/admin/")


def project_bound(route: aw.Route) -> bool:
    return bool(PROJECT_PARAMS & set(route.params))


def owner_only(route: aw.Route) -> bool:
    """Granting, changing and taking away roles on a project: its owners' (and admins')."""
    return route.writes and "/members" in route.path


# --- the cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    role: str  # an account name of access_world.ACCOUNTS, or "anonymous"
    route: aw.Route
    # Only the required query parameters: a list that names no project, asked plainly.
    bare: bool = False

    @property
    def id(self) -> str:
        return f"{self.role}{'(bare)' if self.bare else ''}:{self.route.label}"


_METHOD_ORDER = {"GET": 0, "HEAD": 1, "POST": 2, "PUT": 3, "PATCH": 4, "DELETE": 5}


def _cases() -> list[Case]:
    guarded = [r for r in ROUTES if r.path not in PUBLIC]
    guarded.sort(key=lambda r: (_METHOD_ORDER.get(r.method, 9), r.path))
    cases = [Case("anonymous", r) for r in guarded]
    cases += [Case("root", r) for r in guarded if not r.writes]
    for member in MEMBERS:
        cases += [Case(member, r) for r in guarded]
    # The lists again without naming team-a: they must then leave its things out on their own.
    cases += [
        Case(member, r, bare=True)
        for member in MEMBERS
        for r in guarded
        if not r.writes and not project_bound(r) and any(not req for _, req in r.query)
    ]
    # A worker account writes only the tasks its workers run; it has no password (no pages).
    cases += [Case("agent", r) for r in guarded if r.writes and r.api and project_bound(r)]
    # An editor of team-a changes its tasks, but not who is a member.
    cases += [Case("editor-a", r) for r in guarded if owner_only(r)]
    return cases


CASES = _cases()


# --- judging --------------------------------------------------------------------------------


def expectation(case: Case) -> str:
    """What the answer must be: login, success, refused, forbidden, success-or-refused,
    bulk-refused."""
    route, role = case.route, case.role
    if role == "anonymous":
        return "login"
    if role == "root":
        return "success"
    if role in ("agent", "editor-a"):
        return "refused"
    names_account = not case.bare and ADMIN_QUERY & {name for name, _ in route.query}
    if admin_only(route) or names_account:
        return "forbidden"
    if route.writes and route.path not in READ_POSTS:
        if route.path == BULK:
            return "bulk-refused"
        return "success" if (route.method, route.path) in OWN_WRITES else "refused"
    if role == "viewer-a" or not project_bound(route):
        return "success" if role == "viewer-a" else "success-or-refused"
    return "refused"


def _excerpt(response: httpx.Response) -> str:
    text = response.text.replace("\n", " ")
    return f"{response.status_code} {text[:400]}"


def _is_success(response: httpx.Response) -> bool:
    if response.status_code in (301, 302, 303, 307, 308):
        return not response.headers.get("location", "").startswith("/login")
    return 200 <= response.status_code < 300


def _is_refusal(route: aw.Route, response: httpx.Response, statuses: tuple[int, ...]) -> bool:
    if response.status_code not in statuses:
        return False
    if route.api and route.method != "HEAD":
        codes = {403: "forbidden", 404: "not_found"}
        try:
            code = _error_code(route, response)
        except (ValueError, KeyError, TypeError):
            return False
        return bool(code == codes[response.status_code])
    return True


def status_problems(case: Case, response: httpx.Response) -> list[str]:
    route, wanted = case.route, expectation(case)
    if wanted == "login":
        return _login_problems(route, response)
    if wanted == "success":
        ok = _is_success(response)
    elif wanted == "refused":
        ok = _is_refusal(route, response, (403, 404))
    elif wanted == "forbidden":
        ok = _is_refusal(route, response, (403,))
    elif wanted == "success-or-refused":
        ok = _is_success(response) or _is_refusal(route, response, (403, 404))
    else:  # bulk-refused: the toast says nothing was done
        toast = json.loads(response.headers.get("HX-Trigger", "{}")).get("toast", {})
        ok = response.status_code == 200 and " 0 of " in str(toast.get("message", ""))
    return [] if ok else [f"wanted {wanted}, got {_excerpt(response)}"]


def _login_problems(route: aw.Route, response: httpx.Response) -> list[str]:
    if route.api and route.method == "HEAD":
        # No body to a HEAD: the status says it.
        return [] if response.status_code == 401 else [f"wanted 401, got {_excerpt(response)}"]
    if route.api:
        try:
            code = _error_code(route, response)
        except (ValueError, KeyError, TypeError):
            code = None
        if response.status_code == 401 and code == "unauthorized":
            return []
        return [f"wanted 401 with the unauthorized envelope, got {_excerpt(response)}"]
    location = response.headers.get("location", "")
    asked = response.request.url
    target = asked.path + (f"?{asked.query.decode()}" if asked.query else "")
    parts = urlsplit(location)
    back = parse_qs(parts.query).get("next", [""])[0]
    if response.status_code == 303 and parts.path == "/login" and back == target:
        return []
    return [f"wanted 303 to /login?next={target}, got {_excerpt(response)} location={location}"]


def _error_code(route: aw.Route, response: httpx.Response) -> str:
    """The answer's error code, MLflow's envelope read back as Tunelab's codes."""
    if route.path.startswith(MLFLOW):
        named = response.json()["error_code"]
        return next(code for code, mlflow in MLFLOW_CODES.items() if mlflow == named)
    return str(response.json()["error"]["code"])


def leaks(case: Case, sent: Sent) -> list[str]:
    """Markers of a project the account has no role on, in the answer's body or headers."""
    if case.role in ("root", "agent"):
        return []  # an admin, and a worker account, read everything
    markers = aw.MARKERS_B if case.role in ("viewer-a", "editor-a") else aw.MARKERS_A
    response = sent.response
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items() if k != "set-cookie")
    answer = response.text + headers
    found = [m for m in markers if m in answer and m not in sent.said]
    return [f"leaks {found} in {_excerpt(response)}"] if found else []


def changes(world: World, root: httpx.Client) -> list[str]:
    now = aw.snapshot(world, root)
    differ = [what for what in now if now[what] != world.baseline[what]]
    if not differ:
        return []
    details = [f"{w}: {world.baseline[w]!r:.300} -> {now[w]!r:.300}" for w in differ]
    world.baseline = now  # the next tests compare with the world as it is now
    return ["changed the world: " + "; ".join(details)]


# --- fixtures -------------------------------------------------------------------------------

# The module's world, once on SQLite and once on PostgreSQL.
world = aw.world


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[Clients]:
    api = {name: aw.api_client(world, key) for name, key in world.keys.items()}
    api["anonymous"] = aw.api_client(world, None)
    pages = {
        name: aw.session_client(world.url, name)
        for name, kind in aw.ACCOUNTS.items()
        if kind is not UserKind.WORKER
    }
    world.baseline = aw.snapshot(world, api["root"])
    yield Clients(api, pages)
    for client in (*api.values(), *pages.values()):
        client.close()


@pytest.fixture(scope="module")
def original(world: World, clients: Clients) -> dict[str, Any]:
    """The world before the matrix ran."""
    return dict(world.baseline)


# --- the tests ------------------------------------------------------------------------------


def test_every_route_is_in_the_matrix_and_every_parameter_has_a_value(world: World) -> None:
    """A route whose path or required query the matrix cannot fill would go untried."""
    assert PUBLIC_PATHS == PUBLIC, "a new public path: check it here and in test_public_paths"
    assert {r.path for r in ROUTES} >= PUBLIC
    assert len(ROUTES) >= 120, f"only {len(ROUTES)} routes found: the enumeration broke"
    unknown: list[str] = []
    for route in ROUTES:
        try:
            fill_path(world, "viewer-a", route)
            fill_query(world, route)
        except UnknownParameter as exc:
            unknown.append(str(exc))
    assert not unknown, "\n".join(unknown)
    tried = {(c.role, c.route) for c in CASES}
    for route in ROUTES:
        if route.path not in PUBLIC:
            for role in ("anonymous", *MEMBERS):
                assert (role, route) in tried, f"{role} does not try {route.label}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_access(case: Case, world: World, clients: Clients, original: dict[str, Any]) -> None:
    """The route answers this account as its access allows, leaks nothing of a project the
    account has no role on, and a refused write leaves team-a's data as it was."""
    try:
        sent = send(world, clients, case.role, case.route, bare=case.bare)
    except UnknownParameter as exc:
        pytest.fail(str(exc))
    problems = status_problems(case, sent.response) + leaks(case, sent)
    if case.route.writes and case.role != "anonymous":
        problems += changes(world, clients.api["root"])
    sent_line = f"{case.route.method} {sent.response.request.url}"
    assert not problems, f"{case.role}: {sent_line}\n" + "\n".join(problems)


def test_a_viewer_reads_the_project_and_each_owner_their_own(
    world: World, clients: Clients
) -> None:
    """The refusals above are not a server refusing everyone: a viewer reads team-a's task
    (API and page), owner-b reads team-b's, and the admin reads both."""
    viewer, owner_b, root = (clients.api[n] for n in ("viewer-a", "owner-b", "root"))
    for client, task, marker in (
        (viewer, world.task, aw.A_TASK),
        (owner_b, world.task_b, aw.B_TASK),
        (root, world.task, aw.A_TASK),
        (root, world.task_b, aw.B_TASK),
    ):
        answer = client.get(f"/api/v1/tasks/{task}")
        assert answer.status_code == 200 and marker in answer.text, answer.text[:300]
    page = clients.pages["viewer-a"].get(f"/experiments/{world.task}", follow_redirects=True)
    assert page.status_code == 200 and aw.A_TASK in page.text
    listed = viewer.get("/api/v1/tasks", params={"project": aw.PROJECT_A}).json()["items"]
    assert {t["name"] for t in listed} == {aw.A_TASK, aw.A_QUEUED, aw.A_RUNNING}
    hp = viewer.get(f"/api/v1/tasks/{world.task}").json()["hyperparameters"]
    assert hp[aw.HP_SECTION][aw.A_HP_NAME]["value"] == aw.A_HP_VALUE


def test_the_requests_the_matrix_sends_succeed_for_an_account_allowed_to(
    world: World, clients: Clients
) -> None:
    """The refusals are refusals of the account, not of a malformed request: the same
    requests (keys, sessions, CSRF token, bodies), sent by team-a's editor for a task of
    its own, succeed, and the bulk action's toast counts what it did."""
    made = {"name": "scratch", "project": f"{aw.PROJECT_A}/{aw.A_SUBPROJECT}"}
    scratch = clients.api["owner-a"].post("/api/v1/tasks", json=made).json()["id"]
    mine = dataclasses.replace(world, task=scratch)
    by_label = {r.label: r for r in ROUTES}
    for label in (
        "PATCH /api/v1/tasks/{task_id}",
        "PUT /api/v1/tasks/{task_id}/hyperparameters",
        "POST /experiments/{task_id}/archive",
        "POST /experiments/{task_id}/unarchive",
        "POST /experiments/{task_id}/enqueue",
        "POST /experiments/{task_id}/dequeue",
    ):
        sent = send(mine, clients, "editor-a", by_label[label])
        assert _is_success(sent.response), f"{label}: {_excerpt(sent.response)}"
    bulk = send(mine, clients, "editor-a", by_label[f"POST {BULK}"])
    toast = json.loads(bulk.response.headers["HX-Trigger"])["toast"]["message"]
    assert toast.startswith("Archived 1 of 3"), toast
    assert clients.api["root"].get(f"/api/v1/tasks/{scratch}").json()["archived"] is True


def test_a_change_naming_another_projects_thing_is_refused(world: World, clients: Clients) -> None:
    """An editor of team-a may change team-a's task, but not make it point at team-b's
    model: the answer (and the task afterwards) would show a model it may not read."""
    made = {"name": "scratch-input", "project": f"{aw.PROJECT_A}/{aw.A_SUBPROJECT}"}
    scratch = clients.api["owner-a"].post("/api/v1/tasks", json=made).json()["id"]
    editor, web = clients.api["editor-a"], clients.pages["editor-a"]
    problems: list[str] = []
    answer = editor.put(f"/api/v1/tasks/{scratch}/input_model", json={"model_id": world.model_b})
    if answer.status_code not in (403, 404):
        problems.append(f"API: {_excerpt(answer)}")
    token = aw.csrf_of(web)
    page = web.post(
        f"/experiments/{scratch}/input-model",
        data={"model_id": world.model_b, "csrf_token": token},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    if page.status_code not in (403, 404):
        problems.append(f"page: {_excerpt(page)}")
    task = editor.get(f"/api/v1/tasks/{scratch}").text
    problems += [f"leaks {m}" for m in aw.MARKERS_B if m in answer.text + page.text + task]
    assert not problems, "\n".join(problems)


def test_public_paths_answer_without_credentials(world: World) -> None:
    """The health check and the login page (and logging out) need no account, and say
    nothing of anyone's data."""
    with httpx.Client(base_url=world.url, timeout=30) as anonymous:
        answers = [anonymous.get("/api/v1/health"), anonymous.get("/login")]
        assert [a.status_code for a in answers] == [200, 200]
        assert 'name="password"' in answers[1].text
        form = {
            "name": "owner-a",
            "password": "wrong",
            "next": "/",
            "csrf_token": aw.csrf_of(anonymous),
        }
        wrong = anonymous.post("/login", data=form)
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
        out = anonymous.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        for answer in (*answers, wrong, out):
            assert not [m for m in aw.MARKERS_A + aw.MARKERS_B if m in answer.text]


def test_the_world_is_as_it_was_after_the_whole_matrix(
    world: World, clients: Clients, original: dict[str, Any]
) -> None:
    """Nothing any refused request sent (anonymous ones included) changed team-a's data,
    the accounts or the keys."""
    now = aw.snapshot(world, clients.api["root"])
    differ = {w: (original[w], now[w]) for w in now if now[w] != original[w]}
    assert not differ, "\n".join(f"{w}: {a!r:.300} -> {b!r:.300}" for w, (a, b) in differ.items())

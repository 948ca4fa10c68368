"""The world the access matrix (``test_access_matrix``) runs in, and the routes it tries.

A real server asking for login, with an admin, members holding roles on two projects, a
worker account, and in project ``team-a`` one of everything a user can make through the API:
tasks (inputs, console lines, scalars, a plot, an artifact, a stored file, an open upload), a
model, a queue with a task waiting in it, a worker running a task. Every text a member of
another project must never see holds a marker (``SECRET-A-...``, ``SECRET-B-...``), so a
leak shows up as a marker in an answer.

The routes come from the application itself (``app_routes``), not from a list kept by hand:
a route added to the server is in the matrix the next time it runs.
"""

from __future__ import annotations

import array
import base64
import contextlib
import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from tests.accounts import make_accounts
from tests.server.answers import ok
from tests.services import ServerProcess
from tunelab.domain.access import UserKind
from tunelab.server.app import create_app
from tunelab.server.settings import ServerSettings
from tunelab.store import auth_tokens, repositories
from tunelab.store.engine import create_engine, sqlite_url

PASSWORD = "matrix passphrase 42"
PROJECT_A = "team-a"
PROJECT_B = "team-b"
QUEUE_A = "queue-a"  # queues are shared by every project: their names are not secrets
QUEUE_RUN = "queue-run"
WORKER = "w-a"
HP_SECTION = "Args"
CONFIG_NAME = "main"
PLOT_SERIES = "s"

# Team A's data: none of these may reach anyone without a role on team-a.
A_TASK = "SECRET-A-TASKNAME"
A_QUEUED = "SECRET-A-QUEUEDNAME"
A_RUNNING = "SECRET-A-RUNNINGNAME"
A_HP_NAME = "SECRET-A-HPNAME"
A_HP_VALUE = "SECRET-A-HPVALUE"
A_CONFIG = "SECRET-A-CONFIGTEXT"
A_PROPERTY = "SECRET-A-PROPERTY"
A_COMMENT = "SECRET-A-COMMENT"
A_CONSOLE = "SECRET-A-CONSOLELINE"
A_METRIC = "SECRET-A-METRIC"
A_PLOT = "SECRET-A-PLOTTITLE"
A_PLOT_CELL = "SECRET-A-PLOTCELL"
A_ARTIFACT = "SECRET-A-ARTIFACT"
A_FILE_BYTES = "SECRET-A-FILEBYTES"
A_MODEL = "SECRET-A-MODELNAME"
# MLflow's things of team-a (server.mlflow): a run's file, a registered model with an alias.
A_MLFLOW_FILE = "SECRET-A-MLFLOWFILE.txt"
A_REGISTERED = "SECRET-A-REGISTERED"
A_ALIAS = "champion"
A_DESCRIPTION = "SECRET-A-DESCRIPTION"
# The file committed in team-a's linked repository (it holds team-a's marker).
REPO_FILE = "params.yaml"
GIT_ID = {"NAME": "Tester", "EMAIL": "tester@example.com"}
A_SUBPROJECT = "SECRET-A-SUBPROJECT"
MARKERS_A = (
    A_TASK,
    A_QUEUED,
    A_RUNNING,
    A_HP_NAME,
    A_HP_VALUE,
    A_CONFIG,
    A_PROPERTY,
    A_COMMENT,
    A_CONSOLE,
    A_METRIC,
    A_PLOT,
    A_PLOT_CELL,
    A_ARTIFACT,
    A_FILE_BYTES,
    A_MODEL,
    A_MLFLOW_FILE,
    A_REGISTERED,
    A_DESCRIPTION,
    A_SUBPROJECT,
)
# Team B's data: a member of team-a only (viewer-a) must never see these.
B_TASK = "SECRET-B-TASKNAME"
B_HP_NAME = "SECRET-B-HPNAME"
B_METRIC = "SECRET-B-METRIC"
B_MODEL = "SECRET-B-MODELNAME"
B_SUBPROJECT = "SECRET-B-SUBPROJECT"
MARKERS_B = (B_TASK, B_HP_NAME, B_METRIC, B_MODEL, B_SUBPROJECT)

# name -> kind; members sign in with PASSWORD, the worker account with its key only.
ACCOUNTS = {
    "root": UserKind.ADMIN,
    "owner-a": UserKind.MEMBER,
    "viewer-a": UserKind.MEMBER,
    "editor-a": UserKind.MEMBER,
    "owner-b": UserKind.MEMBER,
    "agent": UserKind.WORKER,
}


# --- the routes -----------------------------------------------------------------------------

# The API's own documentation: the same for everyone, no data in it.
DOCUMENTATION = frozenset({"/api/v1/openapi.json", "/api/v1/docs", "/docs/oauth2-redirect"})
STATIC_MOUNTS = frozenset({"/static"})
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Route:
    """One method of one route, as the application declares it."""

    method: str
    path: str  # the template, "{key:path}" included
    query: tuple[tuple[str, bool], ...] = ()  # (name, required) of declared query parameters
    json_body: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(PARAM.findall(self.path))

    @property
    def template(self) -> str:
        """The path with plain ``{name}`` parameters (the OpenAPI document's spelling)."""
        return PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    @property
    def api(self) -> bool:
        # MLflow's tracking API (server.mlflow) is for programs too, with a key.
        return self.path.startswith(("/api/", "/mlflow/"))

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def app_routes() -> list[Route]:
    """Every method of every route the server answers, read from a freshly built app;
    static files and the API documentation left out. An unknown kind of route fails."""
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        settings = ServerSettings(data_dir=data_dir, database_url=f"sqlite:///{data_dir}/r.db")
        app = create_app(settings)
        try:
            found = _routes_of(app.routes)
        finally:
            app.state.engine.dispose()
    return sorted(set(found), key=lambda r: (r.path, r.method))


def _routes_of(routes: list[Any]) -> list[Route]:
    found: list[Route] = []
    for route in routes:
        # FastAPI's included routers, or the routes they resolve to (``server.flat_routes``).
        if hasattr(route, "effective_route_contexts") or isinstance(route, APIRoute):
            flat = not hasattr(route, "effective_route_contexts")
            for context in [route] if flat else route.effective_route_contexts():
                query = tuple(
                    (f.alias, f.field_info.is_required()) for f in _query_params(context.dependant)
                )
                body = context.body_field is not None
                found += [Route(m, context.path, query, body) for m in sorted(context.methods)]
        elif isinstance(route, Mount):
            if route.path not in STATIC_MOUNTS:
                raise AssertionError(f"a mount the access matrix does not know: {route.path}")
        elif getattr(route, "path", None) in DOCUMENTATION:
            continue
        else:
            methods = set(getattr(route, "methods", None) or ())
            if not methods:
                raise AssertionError(f"a route the access matrix cannot read: {route!r}")
            if "GET" in methods:
                methods.discard("HEAD")  # Starlette's own HEAD for every GET
            found += [Route(m, route.path) for m in sorted(methods)]
    return found


def _query_params(dependant: Any) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_params(sub)


# --- the world ------------------------------------------------------------------------------


@dataclass
class World:
    """The server and the ids of what is in it; ``baseline`` is the state writes must keep."""

    server: ServerProcess
    keys: dict[str, str]
    user_ids: dict[str, str]
    spare_token: str  # a key of owner-a's that the matrix tries to revoke
    project: str
    subproject: str
    project_b: str
    task: str  # a draft with every kind of input and output
    queued_task: str  # waiting in QUEUE_A
    running_task: str  # run by WORKER
    task_b: str
    model: str
    model_b: str
    file_key: str
    upload_key: str
    upload_id: str
    openapi: dict[str, Any]
    baseline: dict[str, Any] = field(default_factory=dict)
    view: str = ""  # a saved view of team-a's project

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def database_url(self) -> str:
        """The server's store, for making more accounts or keys in it directly."""
        return self.server.database_url or sqlite_url(self.server.data_dir)

    @property
    def team_a_tasks(self) -> list[str]:
        return [self.task, self.queued_task, self.running_task]


def api_client(world_or_url: World | str, key: str | None) -> httpx.Client:
    url = world_or_url.url if isinstance(world_or_url, World) else world_or_url
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def session_client(url: str, name: str) -> httpx.Client:
    """A browser signed in as ``name``: its session and CSRF cookies in the jar."""
    web = httpx.Client(base_url=url, timeout=30)
    web.get("/login")
    form = {"name": name, "password": PASSWORD, "next": "/", "csrf_token": csrf_of(web)}
    answer = web.post("/login", data=form)
    assert answer.status_code == 303, f"{name} could not log in: {answer.text[:300]}"
    assert "tunelab_session" in web.cookies
    return web


def csrf_of(web: httpx.Client) -> str:
    return str(web.cookies.get("tunelab_csrf", ""))


@contextlib.contextmanager
def running_world(data_dir: Path, database_url: str | None = None) -> Iterator[World]:
    """Start the server on ``data_dir`` and fill it; stopped on the way out. Its store is
    ``database_url`` (an empty database), or a SQLite file in ``data_dir`` when ``None``."""
    store_url = database_url or sqlite_url(data_dir)
    keys, user_ids, spare = _accounts(store_url)
    env = {"TUNELAB_AUTH": "on", "TUNELAB_WORKER_TIMEOUT": "3600"}
    server = ServerProcess(data_dir, database_url=database_url, env=env)
    server.start()
    try:
        made = _fill(server, keys, user_ids, spare)
        _link_repository(store_url, data_dir, made.project)
        yield made
    finally:
        server.stop()


def _link_repository(store_url: str, data_dir: Path, project_id: str) -> None:
    """Team-a's project linked to a repository on the server's disk (made in the store: only
    an admin of a server serving local files may link one through the API)."""
    work = data_dir / "team-a-repo"
    work.mkdir()
    env = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env |= {f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER") for k, v in GIT_ID.items()}
    (work / REPO_FILE).write_text(f"secret: {A_DESCRIPTION}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *args], cwd=work, env={**os.environ, **env}, check=True)
    engine = create_engine(store_url)
    with engine.begin() as conn:
        repositories.set_repository(conn, project_id, str(work), "main", [REPO_FILE])
    engine.dispose()


def _accounts(store_url: str) -> tuple[dict[str, str], dict[str, str], str]:
    """The accounts and a key each, made in the store (as ``tunelab user create`` does)."""
    made = make_accounts(store_url, ACCOUNTS, password=PASSWORD, key_name="matrix")
    keys = {name: account.key for name, account in made.items()}
    ids = {name: account.id for name, account in made.items()}
    engine = create_engine(store_url)
    with engine.begin() as conn:
        spare, _ = auth_tokens.create_token(conn, ids["owner-a"], "spare")
    engine.dispose()
    return keys, ids, str(spare["id"])


def _fill(server: ServerProcess, keys: dict[str, str], ids: dict[str, str], spare: str) -> World:
    with (
        api_client(server.url, keys["owner-a"]) as a,
        api_client(server.url, keys["owner-b"]) as b,
        api_client(server.url, keys["agent"]) as agent,
        api_client(server.url, keys["root"]) as root,
    ):
        project = ok(
            a.post("/api/v1/projects", json={"name": PROJECT_A, "description": A_DESCRIPTION}), 201
        )
        sub = ok(a.post("/api/v1/projects", json={"name": f"{PROJECT_A}/{A_SUBPROJECT}"}), 201)
        for member, role in (("viewer-a", "viewer"), ("editor-a", "editor")):
            ok(a.put(f"/api/v1/projects/{project['id']}/members/{member}", json={"role": role}))
        task = _full_task(a)
        file_key = f"{PROJECT_A}/{A_TASK}.{task}/artifacts/weights/secret.bin"
        content = A_FILE_BYTES.encode()
        digest = hashlib.sha256(content).hexdigest()
        ok(a.put(f"/api/v1/files/{file_key}", content=content), 201)
        record = {
            "type": "file",
            "format": "bin",
            "uri": f"tunelab://{file_key}",
            "size": len(content),
            "sha256": digest,
        }
        ok(a.put(f"/api/v1/tasks/{task}/artifacts/{A_ARTIFACT}", json=record))
        sample = {"title": A_PLOT, "series": PLOT_SERIES, "kind": "file",
                  "mime": "application/octet-stream", "uri": f"tunelab://{file_key}",
                  "size": len(content)}  # fmt: skip
        ok(a.post(f"/api/v1/tasks/{task}/debug_samples", json=sample))
        model = ok(
            a.post(
                "/api/v1/models",
                json={"name": A_MODEL, "task_id": task, "uri": f"tunelab://{file_key}"},
            ),
            201,
        )
        _mlflow_things(a, project["id"], task, content)
        upload_key = f"{PROJECT_A}/{A_TASK}.{task}/artifacts/big/big.bin"
        upload = ok(a.post(f"/api/v1/files/{upload_key}/uploads"), 201)["upload_id"]
        for queue in (QUEUE_A, QUEUE_RUN):
            assert a.post("/api/v1/queues", json={"name": queue}).status_code in (200, 201)
        queued = ok(a.post("/api/v1/tasks", json={"name": A_QUEUED, "project": PROJECT_A}), 201)
        ok(a.post(f"/api/v1/tasks/{queued['id']}/enqueue", json={"queue": QUEUE_A}))
        running = ok(a.post("/api/v1/tasks", json={"name": A_RUNNING, "project": PROJECT_A}), 201)
        ok(a.post(f"/api/v1/tasks/{running['id']}/enqueue", json={"queue": QUEUE_RUN}))
        ok(agent.post("/api/v1/workers", json={"id": WORKER, "queues": [QUEUE_RUN]}))
        taken = ok(agent.post(f"/api/v1/workers/{WORKER}/next", json={"timeout": 0}))
        assert taken["task"]["id"] == running["id"], taken

        project_b = ok(b.post("/api/v1/projects", json={"name": PROJECT_B}), 201)
        ok(b.post("/api/v1/projects", json={"name": f"{PROJECT_B}/{B_SUBPROJECT}"}), 201)
        hp_b = {HP_SECTION: {B_HP_NAME: {"value": "1"}}}
        task_b = ok(
            b.post(
                "/api/v1/tasks",
                json={"name": B_TASK, "project": PROJECT_B, "hyperparameters": hp_b},
            ),
            201,
        )
        ok(b.post(f"/api/v1/tasks/{task_b['id']}/scalars", json=scalar_batch(B_METRIC)))
        model_b = ok(b.post("/api/v1/models", json={"name": B_MODEL, "task_id": task_b["id"]}), 201)
        openapi = ok(root.get("/api/v1/openapi.json"))
        view = ok(
            a.post(f"/api/v1/projects/{project['id']}/views", json={"name": "v", "layout": {}}),
            201,
        )
    return World(
        server=server,
        keys=keys,
        user_ids=ids,
        spare_token=spare,
        project=project["id"],
        subproject=sub["id"],
        project_b=project_b["id"],
        task=task,
        queued_task=queued["id"],
        running_task=running["id"],
        task_b=task_b["id"],
        model=model["id"],
        model_b=model_b["id"],
        file_key=file_key,
        upload_key=upload_key,
        upload_id=upload,
        openapi=openapi,
        view=view["id"],
    )


def mlflow_file_path(project_id: str, task_id: str) -> str:
    """Team-a's MLflow file, as the proxied artifact routes name it."""
    return f"{project_id}/{task_id}/artifacts/{A_MLFLOW_FILE}"


def _mlflow_things(a: httpx.Client, project_id: str, task: str, content: bytes) -> None:
    """Through MLflow's API: a file of the task's run, a logged model of it, registered as
    A_REGISTERED version 1 with the alias A_ALIAS."""
    api = "/mlflow/api/2.0/mlflow"
    path = mlflow_file_path(project_id, task)
    ok(a.put(f"/mlflow/api/2.0/mlflow-artifacts/artifacts/{path}", content=content))
    logged = ok(
        a.post(
            f"{api}/logged-models",
            json={"experiment_id": project_id, "name": "model", "source_run_id": task},
        )
    )["model"]["info"]["model_id"]
    ok(a.post(f"{api}/registered-models/create", json={"name": A_REGISTERED}))
    version = {"name": A_REGISTERED, "source": f"models:/{logged}"}
    ok(a.post(f"{api}/model-versions/create", json=version))
    alias = {"name": A_REGISTERED, "alias": A_ALIAS, "version": "1"}
    ok(a.post(f"{api}/registered-models/alias", json=alias))


def _full_task(a: httpx.Client) -> str:
    """A draft of team-a's with inputs, console lines, scalars and a plot: the task most
    routes are tried on (a draft, so every modal and editor opens for those allowed)."""
    body = {
        "name": A_TASK,
        "project": PROJECT_A,
        "comment": A_COMMENT,
        "hyperparameters": {HP_SECTION: {A_HP_NAME: {"value": A_HP_VALUE}}},
        "configuration": {CONFIG_NAME: {"text": A_CONFIG}},
        "user_properties": {"note": {"value": A_PROPERTY}},
    }
    task = str(ok(a.post("/api/v1/tasks", json=body), 201)["id"])
    line = {"stream": "stdout", "text": A_CONSOLE, "ts": 1.0}
    ok(a.post(f"/api/v1/tasks/{task}/console", json={"lines": [line]}))
    ok(a.post(f"/api/v1/tasks/{task}/scalars", json=scalar_batch(A_METRIC)))
    plot = {
        "title": A_PLOT,
        "series": PLOT_SERIES,
        "kind": "table",
        "data": {"columns": ["cell"], "rows": [[A_PLOT_CELL]]},
    }
    ok(a.post(f"/api/v1/tasks/{task}/plots", json={"plots": [plot]}))
    return task


def scalar_batch(metric: str) -> dict[str, Any]:
    def packed(kind: str, values: list[float]) -> str:
        return base64.b64encode(array.array(kind, values).tobytes()).decode()

    series = {
        "metric": metric,
        "variant": "train",
        "iterations": packed("q", [0, 1, 2]),
        "values": packed("d", [1.0, 0.5, 0.25]),
        "timestamps": packed("d", [1.0, 2.0, 3.0]),
    }
    return {"batch_id": f"seed-{metric}", "series": [series]}


UPLOAD_PART = b"part one of an upload"


def fresh_upload(world: World, owner_a: httpx.Client) -> str:
    """A new upload of owner-a's to team-a's task, its first part sent: the id goes in
    ``world.upload_id`` (the matrix's {upload_id})."""
    started = owner_a.post(f"/api/v1/files/{world.upload_key}/uploads")
    world.upload_id = str(ok(started, 201)["upload_id"])
    ok(owner_a.put(f"/api/v1/uploads/{world.upload_id}/parts/1", content=UPLOAD_PART))
    return world.upload_id


# --- what must not change -------------------------------------------------------------------


def snapshot(world: World, root: httpx.Client) -> dict[str, Any]:
    """Everything a refused write could have changed, read by the admin: team-a's tasks and
    their outputs, its model, files, members, queue and worker; the accounts and keys."""
    p = world.project
    reads = {
        **{f"task {t}": f"/api/v1/tasks/{t}" for t in world.team_a_tasks},
        # Its sub-project left out: the controls make tasks there (test_access_matrix).
        "team-a tasks": f"/api/v1/tasks?project={PROJECT_A}&include_subprojects=false"
        "&archived=all&page_size=100",
        "console": f"/api/v1/tasks/{world.task}/console",
        "scalars": f"/api/v1/tasks/{world.task}/scalars",
        "plots": f"/api/v1/tasks/{world.task}/plots",
        "debug samples": f"/api/v1/tasks/{world.task}/debug_samples",
        "artifacts": f"/api/v1/tasks/{world.task}/artifacts",
        "models": f"/api/v1/models?project={PROJECT_A}&include_subprojects=false",
        "model": f"/api/v1/models/{world.model}",
        "projects": "/api/v1/projects",
        "members": f"/api/v1/projects/{p}/members",
        "metric directions": f"/api/v1/projects/{p}/metric-directions",
        "repository": f"/api/v1/projects/{p}/repository",
        "users": "/api/v1/users",
        "owner-a keys": "/api/v1/tokens?user=owner-a",
        "queue": f"/api/v1/queues/{QUEUE_A}/entries",
        "workers": "/api/v1/workers",
        "file": f"/api/v1/files/{world.file_key}",
        "uploaded file": f"/api/v1/files/{world.upload_key}",
    }
    state: dict[str, Any] = {}
    for what, url in reads.items():
        answer = root.get(url)
        kind = answer.headers.get("content-type", "")
        body = answer.json() if kind.startswith("application/json") else answer.text
        state[what] = (answer.status_code, body)
    # The repository link without when its mirror was last fetched (every read may fetch).
    code, link = state["repository"]
    state["repository"] = (code, {k: v for k, v in link.items() if k != "last_fetched"})
    # Projects by what a write could change (not their task counts or last update).
    _, listed = state["projects"]
    state["projects"] = sorted((p["name"], p["description"]) for p in listed["items"])
    # Keys without when each was last used: owner-a's own key moves that (the fresh upload
    # of each upload route, a minute or more into a slow run), no refused request does.
    # Workers without when each was last heard from: the server's upkeep writes that in the
    # background for the workers whose polls it saw, whatever request runs meanwhile.
    status, workers = state["workers"]
    if isinstance(workers, dict) and isinstance(workers.get("items"), list):
        items = [{k: v for k, v in w.items() if k != "last_heartbeat"} for w in workers["items"]]
        state["workers"] = (status, {**workers, "items": items})
    status, keys = state["owner-a keys"]
    if isinstance(keys, dict) and isinstance(keys.get("items"), list):
        items = [{k: v for k, v in key.items() if k != "last_used"} for key in keys["items"]]
        state["owner-a keys"] = (status, {**keys, "items": items})
    return state


# --- the fixture ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server_database: str | None) -> Iterator[World]:
    """One world per test module and database (SQLite, then a fresh PostgreSQL database):
    a module that imports this fixture runs its tests on both."""
    with running_world(tmp_path_factory.mktemp("access-world"), server_database) as made:
        yield made

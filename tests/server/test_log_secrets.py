"""The server's log never holds a credential: not the Authorization header, not the session
cookie, and (uvicorn's access log prints each request's path and query) no route takes a
secret in its query string."""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tests.services import ServerProcess
from tunelab.sdk.secrets import is_secret_name
from tunelab.server.app import create_app
from tunelab.server.auth import SESSION_COOKIE
from tunelab.server.settings import ServerSettings


def test_credentials_sent_with_requests_never_reach_the_log(server: ServerProcess) -> None:
    key, session = "tl_" + random_secrets.token_urlsafe(24), random_secrets.token_urlsafe(24)
    headers = {"Authorization": f"Bearer {key}", "Cookie": f"{SESSION_COOKIE}={session}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        answers = [
            http.get("/api/v1/tasks").status_code,
            http.get("/api/v1/tasks/no-such-task").status_code,
            http.post("/api/v1/tasks", json={"name": 5}).status_code,
            http.post("/api/v1/tasks", content=b"{not json").status_code,
            http.get("/").status_code,
            http.get("/experiments", params={"page": "x" * 5000}).status_code,
            http.get("/api/v1/tasks", headers={"Authorization": f"Basic {key}"}).status_code,
        ]
        assert all(code < 500 for code in answers), answers
        assert http.get("/api/v1/health").status_code == 200  # the log is written up to here
    log = Path(server.log_path).read_text(errors="replace")
    assert key not in log and session not in log


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, the included routers' too (FastAPI keeps those as wrappers)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names


# MLflow's own names for a metric's name and a page of results (server.mlflow: its client
# sends them in the query): neither is a credential.
MLFLOW_NAMES = frozenset({"metric_key", "page_token"})


def test_no_route_takes_a_secret_in_its_query(tmp_path: Path) -> None:
    app = create_app(ServerSettings.from_env(data_dir=tmp_path))
    routes = list(_api_routes(app.routes))
    assert len(routes) > 50  # the API and the pages
    in_query = {(route.path, name) for route in routes for name in _query_names(route.dependant)}
    assert len(in_query) > 20  # the walk sees query parameters
    suspicious = {
        (path, name)
        for path, name in in_query
        if (is_secret_name(name) or any(word in name.lower() for word in ("session", "auth")))
        and name not in MLFLOW_NAMES
    }
    assert suspicious == set()

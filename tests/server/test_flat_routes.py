"""The server matches a request in one pass over its routes: each included router is replaced
by the routes it resolves to, and each flat route is what FastAPI made of the included one
(path, the authorize gate and other dependencies, answer class, body limit, OpenAPI entry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from tunelab.server import web
from tunelab.server.api import api_router, dvc_live
from tunelab.server.app import create_app
from tunelab.server.authorize import authorize
from tunelab.server.flat_routes import flatten
from tunelab.server.mlflow import routes as mlflow_routes
from tunelab.server.mlflow.json_body import FastJsonRoute
from tunelab.server.settings import ServerSettings


def _included() -> FastAPI:
    """The server's routers included as ``create_app`` includes them."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(dvc_live.router)
    app.include_router(mlflow_routes.router)
    web.install(app)
    return app


def _resolved(app: FastAPI) -> list[dict[str, Any]]:
    """Every route as FastAPI resolves it for a request, in matching order."""
    return [
        {
            "path": context.path,
            "methods": context.methods,
            "name": context.name,
            "endpoint": getattr(context, "endpoint", None),
            "dependencies": [d.dependency for d in getattr(context, "dependencies", [])],
            "response_class": getattr(context, "response_class", None),
            "status_code": getattr(context, "status_code", None),
            "max_body_size": getattr(context, "max_body_size", None),
            "unique_id": getattr(context, "unique_id", None),
            "class": type(context.original_route),
        }
        for context in iter_route_contexts(app.router.routes)
    ]


def test_the_server_matches_in_one_pass(tmp_path: Path) -> None:
    app = create_app(ServerSettings.from_env(data_dir=tmp_path / "data"))
    kinds = {type(route) for route in app.router.routes}
    assert all(issubclass(kind, (APIRoute, Mount)) for kind in kinds), kinds
    api = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path.startswith("/api/")]
    assert len(api) > 100
    assert all(r.dependencies[0].dependency is authorize for r in api)


def test_flat_routes_are_the_included_ones() -> None:
    included, flat = _included(), _included()
    flatten(flat)
    assert all(isinstance(route, (APIRoute, Mount)) for route in flat.router.routes)
    before, after = _resolved(included), _resolved(flat)
    assert len(after) == len(before) > 200
    for was, now in zip(before, after, strict=True):
        assert now == was, was["path"]
    # A router's own route class (MLflow's metric routes parse JSON faster) is kept.
    assert FastJsonRoute in {now["class"] for now in after}
    assert flat.openapi() == included.openapi()

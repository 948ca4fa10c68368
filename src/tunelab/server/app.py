"""The application factory: ``create_app(settings)`` builds one ASGI app, no globals."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import sqlalchemy as sa
from fastapi import FastAPI

from tunelab import __version__
from tunelab.errors import ConfigError
from tunelab.server import (
    db_gate,
    error_handlers,
    git_repositories,
    maintenance,
    pg_notify,
    store_errors,
    web,
)
from tunelab.server.api import api_router, documentation, dvc_live
from tunelab.server.body_limit import BodyLimitMiddleware
from tunelab.server.csrf import CsrfCookieMiddleware
from tunelab.server.file_store import file_store_for, storage_context_for
from tunelab.server.flat_routes import flatten
from tunelab.server.hot_writes import HotWrites
from tunelab.server.json_guard import InputGuardMiddleware
from tunelab.server.mlflow import routes as mlflow_routes
from tunelab.server.security_headers import SecurityHeadersMiddleware
from tunelab.server.settings import ServerSettings
from tunelab.server.timing import ServerTimingMiddleware
from tunelab.server.work_signal import WorkSignal
from tunelab.server.worker_presence import WorkerPresence
from tunelab.storage import load_storage_credentials
from tunelab.store import migrations, users
from tunelab.store.engine import create_engine, is_sqlite, refresh_statistics
from tunelab.store.integrity import check_database


def create_app(settings: ServerSettings, *, migrate: bool = True) -> FastAPI:
    """Build the server for ``settings``; applies pending migrations unless ``migrate=False``.

    A damaged SQLite database (a write-ahead log cut short, a failed ``quick_check``) is
    refused before anything opens it: opening it would drop data without a word."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    check_database(settings.database_url)
    engine = create_engine(settings.database_url)
    if migrate:
        migrations.upgrade(engine)
    refresh_statistics(engine)
    if settings.auth_required:
        _require_an_admin(engine, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Background upkeep (reaping lost workers) for as long as the server serves.
        upkeep = asyncio.create_task(
            maintenance.run(
                engine,
                settings.worker_timeout,
                settings.task_timeout,
                settings.stop_grace,
                sync_repositories=functools.partial(
                    git_repositories.sync_all, engine, app.state.git_mirrors
                ),
                sync_every=git_repositories.SYNC_EVERY,
                presence=app.state.worker_presence,
            )
        )
        # On PostgreSQL, one connection listening for the enqueues of every replica.
        listener = None
        if not is_sqlite(engine):
            listener = asyncio.create_task(pg_notify.run(engine, app.state.work_signal))
        try:
            yield
        finally:
            app.state.work_signal.close()
            db_gate.close(app)
            for background in (upkeep, listener):
                if background is not None:
                    background.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await background

    app = FastAPI(
        title="Tunelab",
        version=__version__,
        description="Self-hosted experiment manager: the JSON API.",
        # Served behind the login gate instead (server.api.documentation).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.work_signal = WorkSignal()
    # The workers whose polls this process serves: written by the upkeep, not by each poll.
    app.state.worker_presence = WorkerPresence()
    db_gate.install(app)
    # tunelab:// on the server is its own file store (data_dir, a shared folder or a bucket);
    # other URIs use the config file's [storage] credentials (deleting the files of reset
    # tasks, deleted models).
    credentials = load_storage_credentials()
    app.state.file_store = file_store_for(settings, credentials)
    app.state.storage = storage_context_for(app.state.file_store, credentials)
    # Mirrors of the projects' linked git repositories, fetched with the [[git]] credentials.
    app.state.git_mirrors = git_repositories.mirrors_for(settings)
    error_handlers.install(app)
    store_errors.install(app)
    app.include_router(api_router, prefix="/api/v1")
    # DVCLive's live metrics, at the path DVC Studio serves them on.
    app.include_router(dvc_live.router)
    # MLflow's tracking API, for the unchanged MLflow client (tracking URI <server>/mlflow).
    app.include_router(mlflow_routes.router)
    web.install(app)
    # Every router is in: match requests in one pass over the routes they resolve to.
    flatten(app)
    # Innermost: the three writes every run makes skip FastAPI's handling (server.hot_writes).
    app.add_middleware(HotWrites)
    # The guard reads bodies the limit has already bounded (middleware added last runs first).
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CsrfCookieMiddleware)
    app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, docs_path=documentation.DOCS_URL)
    return app


def _require_an_admin(engine: sa.Engine, settings: ServerSettings) -> None:
    """A server that asks for login must have someone able to log in: refuse to start
    otherwise, saying how to set one up."""
    with engine.connect() as conn:
        if users.admin_exists(conn):
            return
    where = f"--data-dir {settings.data_dir}"
    if not settings.database_url.startswith("sqlite"):
        where = "--database-url URL"
    raise ConfigError(
        f"the server asks for login (bound to {settings.host}"
        f"{', TUNELAB_AUTH=on' if settings.auth == 'on' else ''}) but has no admin yet: "
        f"create one with `tunelab user create NAME --admin {where}`, "
        "or bind to 127.0.0.1 to run without login"
    )

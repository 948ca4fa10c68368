"""The application factory: ``create_app(settings)`` builds one ASGI app, no globals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from tunelab import __version__
from tunelab.server import error_handlers, maintenance, web
from tunelab.server.api import api_router
from tunelab.server.body_limit import BodyLimitMiddleware
from tunelab.server.settings import ServerSettings
from tunelab.server.timing import ServerTimingMiddleware
from tunelab.server.work_signal import WorkSignal
from tunelab.storage import StorageContext, load_storage_credentials
from tunelab.store import migrations
from tunelab.store.engine import create_engine, refresh_statistics


def create_app(settings: ServerSettings, *, migrate: bool = True) -> FastAPI:
    """Build the server for ``settings``; applies pending migrations unless ``migrate=False``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    if migrate:
        migrations.upgrade(engine)
    refresh_statistics(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Background upkeep (reaping lost workers) for as long as the server serves.
        upkeep = asyncio.create_task(maintenance.run(engine, settings.worker_timeout))
        try:
            yield
        finally:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep

    app = FastAPI(
        title="Tunelab",
        version=__version__,
        description="Self-hosted experiment manager: the JSON API.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.work_signal = WorkSignal()
    # tunelab:// on the server is its own files folder; other URIs use the config file's
    # [storage] credentials (deleting the files of reset tasks, deleted models).
    app.state.storage = StorageContext(
        credentials=load_storage_credentials(), files_root=settings.data_dir / "files"
    )
    error_handlers.install(app)
    app.include_router(api_router, prefix="/api/v1")
    web.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ServerTimingMiddleware)
    return app

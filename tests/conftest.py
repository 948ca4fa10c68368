"""Fixtures compose: database URL -> engine (migrated) -> server process -> SDK client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.browser import browser  # noqa: F401 - the session's Chromium, for every test
from tests.services import (
    S3_TEST_BUCKET,
    SeaweedServer,
    ServerProcess,
    postgres_database,
    postgres_server,
    seaweed_server,
)
from tunelab.store import migrations, schema
from tunelab.store.engine import create_engine


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One PostgreSQL server for the whole run, migrated once; tests empty it after use."""
    with postgres_server() as url:
        engine = create_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url


def _truncate_all(engine: sa.Engine) -> None:
    names = ", ".join(t.name for t in schema.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated, empty store: every store test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'tunelab.db'}")
        migrations.upgrade(eng)
        yield eng
        eng.dispose()
    else:
        url = request.getfixturevalue("postgres_url")
        eng = create_engine(url)
        yield eng
        _truncate_all(eng)
        eng.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The store of a module's own server process, once per database: ``None`` on SQLite
    (the server's file in its data dir), else the URL of a fresh PostgreSQL database of the
    module's own (``ServerProcess(..., database_url=...)``), dropped after the module."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_database(request.getfixturevalue("postgres_url"), "module") as url:
        yield url


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real ``tunelab server`` process on SQLite, shared by the SDK and CLI tests."""
    proc = ServerProcess(tmp_path_factory.mktemp("server-data"))
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def api_url(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URL, also exported as TUNELAB_API_URL for SDK code under test."""
    monkeypatch.setenv("TUNELAB_API_URL", server.url)
    return server.url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedServer]:
    """A real S3-compatible service (SeaweedFS on 127.0.0.1) with the bucket
    ``S3_TEST_BUCKET`` created; ``endpoint``, ``key`` and ``secret`` reach it."""
    import s3fs

    with seaweed_server() as service:
        fs = s3fs.S3FileSystem(
            key=service.key,
            secret=service.secret,
            endpoint_url=f"http://{service.endpoint}",
            skip_instance_cache=True,
        )
        fs.mkdir(S3_TEST_BUCKET)
        yield service

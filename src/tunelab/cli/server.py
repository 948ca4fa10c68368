"""``tunelab server``: the API (and pages) on uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import uvicorn

# How long an idle connection stays open. Longer than clients keep theirs (httpx: 5 s): when
# both sides use 5 s, an agent's heartbeat every 5 s meets a connection the server is closing
# ("Server disconnected without sending a response").
KEEP_ALIVE_SECONDS = 75


@click.command()
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8080).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the embedded database and artifacts live (default ~/.tunelab).",
)
@click.option(
    "--database-url",
    default=None,
    help="postgresql+psycopg://USER:PASS@HOST:PORT/DB (default: SQLite in the data dir).",
)
@click.option(
    "--file-store",
    default=None,
    help="Where tunelab:// files live, when not in the data dir: a folder every replica "
    "mounts, or an object store (s3://host:port/bucket/prefix, gs://, azure://) "
    "[env: TUNELAB_FILE_STORE].",
)
@click.option(
    "--auth",
    is_flag=True,
    default=False,
    help="Ask for login even on 127.0.0.1 (any other address always asks).",
)
def server(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    database_url: str | None,
    file_store: str | None,
    auth: bool,
) -> None:
    """Run the Tunelab server.

    Bound to 127.0.0.1 (the default) it runs without login. Bound to any other address it
    asks for login, and needs an admin first: `tunelab user create NAME --admin`.
    """
    import uvicorn

    from tunelab.cli.store_opening import opening_store
    from tunelab.server.app import create_app
    from tunelab.server.settings import ServerSettings

    settings = ServerSettings.from_env(
        data_dir=data_dir,
        database_url=database_url,
        host=host,
        port=port,
        auth="on" if auth else None,
        file_store=file_store,
    )
    with opening_store(settings.database_url):
        app = create_app(settings)
    click.echo(
        f"Tunelab server on http://{settings.host}:{settings.port} (data: {settings.data_dir})"
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,  # never shown at "warning"; its line is built per request all the same
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    _serve(config, on_stop=app.state.work_signal.close)


def _serve(config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
    """uvicorn's server, telling the app the moment a stop is asked for (SIGTERM, Ctrl-C)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # uvicorn lets the requests under way finish before it stops: the workers'
            # long polls answer now instead of at their timeout, tens of seconds later.
            on_stop()
            super().handle_exit(sig, frame)

    Server(config).run()

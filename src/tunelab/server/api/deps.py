"""What route functions receive: the store's connection, inside one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import sqlalchemy as sa
from fastapi import Depends, Request

from tunelab.domain.access import Principal
from tunelab.server.authorize import current_principal
from tunelab.server.db_gate import gate, note_writer, on_thread
from tunelab.server.settings import ServerSettings


async def _connection(request: Request) -> AsyncIterator[sa.Connection]:
    # Async, so the gate is taken on the event loop before any thread (``db_gate``).
    engine: sa.Engine = request.app.state.engine
    async with gate(request):
        with anyio.CancelScope(shield=True):  # a connection opened is always given back
            conn = await on_thread(request, _begin, engine)
        try:
            yield conn
        except BaseException:
            await _finish(conn, request, commit=False)
            raise
        await _finish(conn, request, commit=True)


async def _finish(conn: sa.Connection, request: Request, *, commit: bool) -> None:
    # Shielded: a cancelled request (the client went away) still gives back its
    # connection, and on SQLite the write lock.
    with anyio.CancelScope(shield=True):
        await on_thread(request, _end, conn, request, commit)


def _begin(engine: sa.Engine) -> sa.Connection:
    conn = engine.connect()
    try:
        conn.begin()
    except BaseException:
        conn.close()
        raise
    return conn


def _end(conn: sa.Connection, request: Request, commit: bool) -> None:
    try:
        if commit:
            note_writer(conn, request)
            conn.commit()
        else:
            conn.rollback()
    finally:
        conn.close()


# Async, though they only read what the app and ``authorize`` stored: FastAPI runs a sync
# dependency on a worker thread, a hand-off to a thread and back for two attribute reads.
async def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


async def _principal(request: Request) -> Principal:
    return current_principal(request)


# scope="function": commit before the response is sent, so a client never sees success for
# a write whose commit then failed (a PostgreSQL serialization error, a full disk).
Conn = Annotated[sa.Connection, Depends(_connection, scope="function")]
Settings = Annotated[ServerSettings, Depends(_settings)]
# The account the request acts for (``server.authorize``).
Who = Annotated[Principal, Depends(_principal)]

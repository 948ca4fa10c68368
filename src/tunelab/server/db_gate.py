"""Every database transaction a request makes passes one gate, taken before a worker thread.

Sync route functions and dependencies run on anyio's 40 worker threads. A request that holds
a pooled connection, or on SQLite the write lock (``BEGIN IMMEDIATE``), between two thread
hops (the ``Conn`` dependency, then the route) stalls the whole server once every thread is
taken by requests queued behind it: the holder waits for a thread, the threads wait for the
lock, and all fail after the 30 s busy timeout. So a request waits for the gate on the event
loop, before it takes a thread, and at most ``DB_SLOTS`` requests hold a connection at once:
fewer than the threads and the pooled connections, so each finds both.

The hop itself is ``loop.run_in_executor`` on a pool of ``DB_SLOTS`` threads of the gate's
own: anyio's ``to_thread`` (what ``run_in_threadpool`` calls) takes a capacity limiter and two
cancel scopes per call, a third of the server's CPU on a request as small as ``/health``.
The gate is an ``asyncio.Semaphore``, which costs nothing when a slot is free.

Example::

    files = await in_transaction(request, lifecycle.delete, task_id)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from fastapi import FastAPI, Request

from tunelab.store.tasks import note_changed_by

DB_SLOTS = 10  # under anyio's 40 threads and the 15 (SQLite) or 30 (PostgreSQL) connections

P = ParamSpec("P")
T = TypeVar("T")


def install(app: FastAPI) -> None:
    app.state.db_gate = asyncio.Semaphore(DB_SLOTS)
    app.state.db_threads = None


def _threads(app: FastAPI) -> ThreadPoolExecutor:
    threads: ThreadPoolExecutor | None = app.state.db_threads
    if threads is None:
        # A holder of the gate runs one piece of work at a time: DB_SLOTS threads are never
        # short, and none waits for a thread while it holds the write lock.
        threads = app.state.db_threads = ThreadPoolExecutor(DB_SLOTS, "tunelab-db")
    return threads


def close(app: FastAPI) -> None:
    """Let the gate's threads end (the app's shutdown); a later request starts new ones."""
    threads: ThreadPoolExecutor | None = app.state.db_threads
    app.state.db_threads = None
    if threads is not None:
        threads.shutdown(wait=True)


@asynccontextmanager
async def gate(request: Request) -> AsyncIterator[None]:
    semaphore: asyncio.Semaphore = request.app.state.db_gate
    async with semaphore:
        yield


async def run_db(request: Request, func: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """``func`` on a worker thread once the gate lets this request in; it opens its own
    transaction (``engine.begin()``)."""
    async with gate(request):
        return await on_thread(request, func, *args, **kw)


async def on_thread(request: Request, func: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """``func`` on one of the gate's threads, for a request holding the gate. A request
    cancelled meanwhile (its client went away) still waits for the work to end, as anyio's
    threads make it: the gate's slot, and the connection the work holds, are given back
    only once the thread is done with them."""
    work = functools.partial(contextvars.copy_context().run, func, *args, **kw)
    future = asyncio.get_running_loop().run_in_executor(_threads(request.app), work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():  # however often the cancel comes
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # seen: the cancel is what this request ends with
        raise


async def in_transaction(
    request: Request,
    func: Callable[Concatenate[sa.Connection, P], T],
    *args: P.args,
    **kw: P.kwargs,
) -> T:
    """``func(conn, ...)`` in a transaction of its own, committed before this returns (a
    route deletes files only once the records naming them are gone for good). A write to
    the task the path names records who made it, as ``Conn`` does."""
    engine: sa.Engine = request.app.state.engine

    def work() -> T:
        with engine.begin() as conn:
            result = func(conn, *args, **kw)
            note_writer(conn, request)
            return result

    return await run_db(request, work)


def note_writer(conn: sa.Connection, request: Request, task_id: str | None = None) -> None:
    """Record ``last_changed_by`` on ``task_id`` (default: the task the path names), in the
    transaction of the change itself, when ``authorize`` found a named account writing."""
    writer: str | None = getattr(request.state, "writer", None)
    task_id = task_id or request.path_params.get("task_id")
    if writer and task_id:
        note_changed_by(conn, task_id, writer)

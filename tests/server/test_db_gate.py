"""The database gate's threads: work runs off the event loop, and a request cancelled while
its work runs (the client went away) gives back its slot only once the work is done."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from tests.event_loop import run_coroutine
from tunelab.server import db_gate

who = contextvars.ContextVar("who", default="nobody")


def request_for(app: FastAPI) -> Any:
    return SimpleNamespace(app=app)  # all ``run_db`` reads of a request


def test_work_runs_on_the_gates_threads_with_the_callers_context() -> None:
    app = FastAPI()
    db_gate.install(app)

    async def ask() -> tuple[str, str]:
        who.set("alice")
        return await db_gate.run_db(
            request_for(app), lambda: (threading.current_thread().name, who.get())
        )

    try:
        thread, seen = run_coroutine(ask())
    finally:
        db_gate.close(app)
    assert thread.startswith("tunelab-db") and seen == "alice"


def test_a_cancelled_request_waits_for_its_work() -> None:
    app = FastAPI()
    db_gate.install(app)
    finished: list[float] = []

    def slow() -> None:
        time.sleep(0.3)
        finished.append(time.monotonic())

    async def cancel_midway() -> tuple[float, int]:
        task = asyncio.create_task(db_gate.run_db(request_for(app), slow))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        free: asyncio.Semaphore = app.state.db_gate
        return time.monotonic(), free._value

    try:
        ended, free_slots = run_coroutine(cancel_midway())
    finally:
        db_gate.close(app)
    assert finished and finished[0] <= ended  # the work was done before the cancel ended it
    assert free_slots == db_gate.DB_SLOTS  # and its slot given back


def test_the_works_error_reaches_the_request() -> None:
    app = FastAPI()
    db_gate.install(app)

    def fails() -> None:
        raise LookupError("no such task")

    try:
        with pytest.raises(LookupError, match="no such task"):
            run_coroutine(db_gate.run_db(request_for(app), fails))
    finally:
        db_gate.close(app)

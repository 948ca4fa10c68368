"""Checking a login's password (and hashing a new one) without holding anything up: the
argon2 hash (tens of milliseconds of CPU and memory, on purpose) runs on a worker thread
outside the database gate (``server.db_gate``) and outside any transaction, at most
``HASH_SLOTS`` at once.

Hashing inside the login's transaction held a gate slot, and on SQLite the write lock, for
the whole hash: a dozen clients trying passwords (a wrong one costs as much as a right one)
made every other write wait behind them. Now a login reads the account in one short
transaction, hashes with nothing held, and starts a session in a second short one, only for
a match and only if the account has not changed in between.

Example::

    session = await session_for(request, name, password)  # a session id, or None
"""

from __future__ import annotations

import anyio
import sqlalchemy as sa
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from tunelab.server.db_gate import in_transaction
from tunelab.store import users, web_sessions

# Two hashes at once keep logins moving while leaving the other cores (and the threads the
# rest of the server runs on) to everything else; more waiting logins simply queue here.
HASH_SLOTS = 2


async def session_for(request: Request, name: str, password: str) -> str | None:
    """A new session id when ``password`` is ``name``'s and the account may log in; else None."""
    candidate = await in_transaction(request, users.login_candidate, name)
    async with _hash_slots(request):
        matched = await run_in_threadpool(users.password_matches, candidate, password)
    if not matched:
        return None
    return await in_transaction(request, _start_session, candidate)


async def new_password_hash(request: Request, password: str | None) -> str | None:
    """The stored form of a new password (None for none), hashed the same way: outside any
    transaction, in one of the ``HASH_SLOTS``. A password too short is an InvalidInput."""
    if password is None:
        return None
    async with _hash_slots(request):
        return await run_in_threadpool(users.hash_password, password)


def _start_session(conn: sa.Connection, candidate: users.LoginCandidate) -> str | None:
    if candidate.user_id is None or not users.still_matches(conn, candidate):
        return None
    return web_sessions.create_session(conn, candidate.user_id)


def _hash_slots(request: Request) -> anyio.Semaphore:
    # Made on first use, on the event loop (no await in between: no two are made).
    state = request.app.state
    if not hasattr(state, "hash_slots"):
        state.hash_slots = anyio.Semaphore(HASH_SLOTS)
    slots: anyio.Semaphore = state.hash_slots
    return slots

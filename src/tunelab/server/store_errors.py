"""The database failing under the server (a full disk, an I/O error, a lost connection):
a clear 507 or 503 in the usual error envelope, never a bare 500, and the server stays up.

    SQLite "database or disk is full", PostgreSQL 53100 disk_full ..... 507 insufficient_storage
    SQLite disk I/O error, read-only or unopenable file; PostgreSQL
    58030 io_error, 53xxx out of resources, 08xxx/57P0x connection .... 503 database_unavailable
    SQLite busy past its timeout, the pool exhausted .................. 503 database_unavailable

The codes are those of ``tunelab.errors.InsufficientStorage`` and ``DatabaseUnavailable``,
both a ``ServerUnavailable``: the SDK, the CLI and the agent retry them as they retry a server
that does not answer, and the SDK's reporter keeps the data in its spool and resends it with
the same batch ids once the database writes again. Nothing stored before is touched (the
failed transaction rolls back). Any other database error stays the generic 500 of
``error_handlers``.

Install after ``error_handlers.install(app)``::

    store_errors.install(app)
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tunelab.errors import DatabaseUnavailable, InsufficientStorage, ServerUnavailable, error_body
from tunelab.server.web.errors import error_page, wants_page

log = logging.getLogger("tunelab.server")

# Seconds a client should wait before trying again (the SDK has its own backoff).
RETRY_AFTER = "5"

# SQLite primary result codes (the extended code's low byte).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14


@dataclass(frozen=True)
class StoreFailure:
    kind: type[ServerUnavailable]  # its status and code; the SDK rebuilds it from the code
    what: str  # completes "the database could not write: ..."

    @property
    def status(self) -> int:
        return self.kind.status

    @property
    def code(self) -> str:
        return self.kind.code


DISK_FULL = StoreFailure(InsufficientStorage, "its disk is full")
IO_ERROR = StoreFailure(DatabaseUnavailable, "a disk I/O error")
READ_ONLY = StoreFailure(DatabaseUnavailable, "its file is read-only")
CANNOT_OPEN = StoreFailure(DatabaseUnavailable, "its file cannot be opened")
RESOURCES = StoreFailure(DatabaseUnavailable, "it is out of resources")
UNREACHABLE = StoreFailure(DatabaseUnavailable, "the connection to it was lost")
BUSY = StoreFailure(DatabaseUnavailable, "it stayed busy past the timeout")

_SQLITE = {
    _SQLITE_FULL: DISK_FULL,
    _SQLITE_IOERR: IO_ERROR,
    _SQLITE_READONLY: READ_ONLY,
    _SQLITE_CANTOPEN: CANNOT_OPEN,
    _SQLITE_BUSY: BUSY,
    _SQLITE_LOCKED: BUSY,
}
# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_POSTGRES = {
    "53100": DISK_FULL,  # disk_full
    "58030": IO_ERROR,  # io_error
    "25006": READ_ONLY,  # read_only_sql_transaction: a hot standby answered
    "57P01": UNREACHABLE,  # admin_shutdown
    "57P02": UNREACHABLE,  # crash_shutdown
    "57P03": UNREACHABLE,  # cannot_connect_now: starting up or in recovery
}
_POSTGRES_CLASSES = {"53": RESOURCES, "08": UNREACHABLE}


def classify(exc: BaseException) -> StoreFailure | None:
    """What the database's failure means for the client; None for any other error."""
    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection came free
        return BUSY
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return _SQLITE.get(code & 0xFF) if isinstance(code, int) else None
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg's errors carry it
    if isinstance(sqlstate, str):
        return _POSTGRES.get(sqlstate) or _POSTGRES_CLASSES.get(sqlstate[:2])
    if exc.connection_invalidated:  # no SQLSTATE: the server went away mid-request
        return UNREACHABLE
    return None


def install(app: FastAPI) -> None:
    # Starlette finds a handler by the exception's MRO, so these win over the generic
    # Exception handler for database errors, and hand the others back to it.
    app.add_exception_handler(sa.exc.DBAPIError, _store_error)
    app.add_exception_handler(sa.exc.TimeoutError, _store_error)


async def _store_error(request: Request, exc: Exception) -> Response:
    failure = classify(exc)
    if failure is None:
        raise exc  # not the database's own trouble: the generic 500 handler reports it
    verb = "read" if request.method in ("GET", "HEAD") else "write"
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    message = f"the database could not {verb}: {failure.what} ({cause}); "
    if verb == "write":  # the failed transaction rolled back: say what that means
        message += "data stored before is intact; "
    message += "try again later"
    # One line, no traceback: a full disk would otherwise flood the log (if it can write).
    log.error("%s %s: %s", request.method, request.url.path, message)
    headers = {"Retry-After": RETRY_AFTER}
    if wants_page(request):
        page = error_page(request, failure.status, failure.code, message)
        page.headers.update(headers)
        return page
    body = error_body(failure.code, message, {"database_error": cause})
    return JSONResponse(body, status_code=failure.status, headers=headers)

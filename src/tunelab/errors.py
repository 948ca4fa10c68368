"""Tunelab's exceptions: one small tree shared by the server, the SDK and the CLI.

    TunelabError                      status 500, code "internal"
     ├── InvalidInput                 400, "invalid_input"   (malformed or out-of-range input)
     │    └── PayloadTooLarge         413, "payload_too_large"
     ├── NotFound                     404, "not_found"
     ├── Conflict                     409, "conflict"        (refused by the task's state)
     ├── Unauthorized                 401, "unauthorized"    (no valid API key or session)
     ├── Forbidden                    403, "forbidden"       (the account's role does not allow it)
     ├── ServerUnavailable            503, "server_unavailable" (SDK/CLI side: no answer)
     │    ├── DatabaseUnavailable     503, "database_unavailable" (its database failed)
     │    └── InsufficientStorage     507, "insufficient_storage" (its database's disk is full)
     ├── StorageError                 502, "storage_error"   (object storage refused or failed)
     ├── RepositoryUnavailable        409, "repository_unavailable" (a linked git repository)
     │    └── ForgeError              409, "forge_error"     (its GitHub/GitLab API refused)
     └── ConfigError                  400, "config_error"    (a bad setting or config file)

The server maps any of these to HTTP in one handler, with the body
``{"error": {"code": ..., "message": ..., "detail": ...}}``; the SDK rebuilds the
exception from ``code``; the CLI prints ``message`` and exits non-zero.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)


class TunelabError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.detail)


class InvalidInput(TunelabError):
    status = 400
    code = "invalid_input"


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "payload_too_large"


class NotFound(TunelabError):
    status = 404
    code = "not_found"


class Conflict(TunelabError):
    status = 409
    code = "conflict"


class Unauthorized(TunelabError):
    status = 401
    code = "unauthorized"


class Forbidden(TunelabError):
    status = 403
    code = "forbidden"


class ServerUnavailable(TunelabError):
    status = 503
    code = "server_unavailable"


class DatabaseUnavailable(ServerUnavailable):
    """The server answers but its database cannot write (or read) now: a disk I/O error, a
    lost connection. A ServerUnavailable, so every client retries it the same way."""

    status = 503
    code = "database_unavailable"


class InsufficientStorage(ServerUnavailable):
    """The database's disk is full; the write is worth retrying once space is freed."""

    status = 507
    code = "insufficient_storage"


class StorageError(TunelabError):
    """Object storage (a folder, S3, GCS, Azure, the server's file store) refused or failed:
    wrong credentials, a missing bucket, a file whose hash does not match its record."""

    status = 502
    code = "storage_error"


class RepositoryUnavailable(TunelabError):
    """A project's linked git repository could not be fetched or read (git's message, with
    any credential blanked). A 4xx: what fails is the link (its address, the server's
    credentials for it, the remote), which its owner fixes, not the server."""

    status = 409
    code = "repository_unavailable"


class ForgeError(RepositoryUnavailable):
    """The forge hosting a linked repository (GitHub, GitLab) refused or could not be reached
    while opening a pull request or starting a CI workflow: the forge's own message, never
    the token. A 4xx for the same reason as RepositoryUnavailable: the link's owner fixes it."""

    status = 409
    code = "forge_error"


class ConfigError(TunelabError):
    status = 400
    code = "config_error"


def enum_member(kind: type[E], value: Any, what: str) -> E:
    """``kind(value)``, or an InvalidInput naming ``what`` and the values allowed."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidInput(f"unknown {what} {value!r}; one of: {allowed}") from None


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    """The one JSON error envelope, used for every error the API returns."""
    return {"error": {"code": code, "message": message, "detail": detail}}


def _all_subclasses(cls: type[TunelabError]) -> list[type[TunelabError]]:
    found: list[type[TunelabError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def from_code(code: str, message: str, detail: Any = None) -> TunelabError:
    """Rebuild the exception a server reported, for the SDK to raise."""
    candidates: list[type[TunelabError]] = [TunelabError, *_all_subclasses(TunelabError)]
    for cls in candidates:
        if cls.code == code:
            return cls(message, detail)
    return TunelabError(message, detail)

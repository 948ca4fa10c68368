"""Server settings: a frozen dataclass read from arguments, ``TUNELAB_*`` variables and defaults.

Example::

    settings = ServerSettings.from_env(data_dir=Path("/srv/tunelab"))
    app = create_app(settings)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from tunelab.errors import ConfigError, InvalidInput

DEFAULT_DATA_DIR = Path("~/.tunelab")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
AUTH_CHOICES = ("auto", "on")


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    # Largest request body accepted (a scalar batch, a diff); larger gets a 413.
    max_body_bytes: int = 64 * 1024 * 1024
    # Most points one scalar batch may carry.
    max_batch_points: int = 2_000_000
    # Seconds a worker may stay silent (no heartbeat, no poll) before it counts as lost and
    # its running task fails with "worker lost".
    worker_timeout: float = 60.0
    # Seconds a running task without a worker (a script run by hand) may stay silent (no
    # data, no ping) before it counts as lost and fails with "no activity".
    task_timeout: float = 600.0
    # Seconds a stop request on a running task may go unanswered before the task is ended
    # as stopped anyway (its process is gone, or nobody watches for the request).
    stop_grace: float = 60.0
    # "auto": login required unless bound to a loopback address; "on": always required.
    auth: str = "auto"
    # Whether the server opens (for admins) files on its own disk that records name;
    # None: yes without login, no with login (server.uri_access).
    serve_local_files: bool | None = None
    # Object-store URI prefixes the server may read and delete in, besides the
    # [[storage.*]] entries of its config file (server.uri_access).
    storage_allow: tuple[str, ...] = ()
    # Where the server's own file store (tunelab:// keys) lives, when not in data_dir:
    # a folder every replica mounts, or an object store (s3://, gs://, azure://) prefix.
    file_store: str | None = None

    @property
    def auth_required(self) -> bool:
        return self.auth == "on" or self.host not in LOOPBACK_HOSTS

    @property
    def local_files_served(self) -> bool:
        if self.serve_local_files is None:
            return not self.auth_required
        return self.serve_local_files

    @classmethod
    def from_env(
        cls,
        *,
        data_dir: Path | str | None = None,
        database_url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        auth: str | None = None,
        file_store: str | None = None,
    ) -> ServerSettings:
        env = os.environ
        directory = Path(data_dir or env.get("TUNELAB_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
        url = database_url or env.get("TUNELAB_DATABASE_URL") or ""
        if not url:
            url = f"sqlite:///{directory / 'tunelab.db'}"
        return cls(
            data_dir=directory,
            database_url=url,
            host=host or env.get("TUNELAB_HOST", "127.0.0.1"),
            port=port if port is not None else _int_env("TUNELAB_PORT", 8080),
            max_body_bytes=_int_env("TUNELAB_MAX_BODY_BYTES", 64 * 1024 * 1024),
            max_batch_points=_int_env("TUNELAB_MAX_BATCH_POINTS", 2_000_000),
            worker_timeout=_float_env("TUNELAB_WORKER_TIMEOUT", 60.0),
            task_timeout=_float_env("TUNELAB_TASK_TIMEOUT", 600.0),
            stop_grace=_float_env("TUNELAB_STOP_GRACE", 60.0),
            auth=_choice(auth or env.get("TUNELAB_AUTH") or "auto", "TUNELAB_AUTH", AUTH_CHOICES),
            serve_local_files=_flag_env("TUNELAB_SERVE_LOCAL_FILES"),
            storage_allow=_prefixes_env("TUNELAB_STORAGE_ALLOW"),
            file_store=_file_store(file_store or env.get("TUNELAB_FILE_STORE") or None),
        )


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _flag_env(name: str) -> bool | None:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return None
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


def _prefixes_env(name: str) -> tuple[str, ...]:
    """Comma-separated object-store URIs (s3://, gs://, azure://), each with its bucket."""
    from tunelab.storage import parse_destination

    prefixes: list[str] = []
    for raw in os.environ.get(name, "").split(","):
        if not raw.strip():
            continue
        try:
            dest = parse_destination(raw.strip())
        except InvalidInput as exc:
            raise ConfigError(f"{name}: {exc.message}") from None
        if dest.scheme not in ("s3", "gs", "azure"):
            raise ConfigError(
                f"{name} lists object stores (s3://, gs://, azure://), got {raw.strip()!r}"
            )
        prefixes.append(dest.uri.rstrip("/"))
    return tuple(prefixes)


def _file_store(raw: str | None) -> str | None:
    """A folder (absolute path) or an object-store prefix with its bucket, normalized."""
    from tunelab.storage import parse_destination

    if raw is None or not raw.strip():
        return None
    try:
        dest = parse_destination(raw.strip())
    except InvalidInput as exc:
        raise ConfigError(f"TUNELAB_FILE_STORE (--file-store): {exc.message}") from None
    if dest.scheme not in ("file", "s3", "gs", "azure"):
        raise ConfigError(
            "TUNELAB_FILE_STORE (--file-store) is a folder or an object store (s3://, gs://, "
            f"azure://), got {raw.strip()!r}"
        )
    return dest.uri.rstrip("/") if dest.scheme != "file" else dest.path


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value

"""How the SDK finds its server and how it sends: ``TUNELAB_*`` variables over a TOML file.

Each setting is read from its environment variable first, then from the config file
(``~/.config/tunelab/config.toml``, or the file named by ``TUNELAB_CONFIG_FILE``), then
its default. A config file that exists but cannot be read, or a value of the wrong kind,
raises ``ConfigError`` naming the file (or variable) and the key: a typo never silently
sends a run to the wrong place.

Example config file::

    # ~/.config/tunelab/config.toml
    api_url = "http://tunelab.example.org:8080"   # replicas: ["http://tl-a:8080", "http://tl-b:8080"]
    api_token = "s3cret"                 # sent as "Authorization: Bearer s3cret"
    web_url = "https://tunelab.example.org"  # the web app's address (default: api_url's origin)
    offline = false                      # true: record into offline_dir, sync later
    offline_dir = "~/.tunelab/offline"
    spool_dir = "~/.tunelab/spool"       # where unsent data waits while the server is down
    log_os_environments = ["CUDA_*", "SLURM_JOB_ID"]
    full_pip_freeze = false
    default_output_uri = "s3://bucket/models"
    flush_interval = 0.5                 # seconds between background sends
    max_batch_points = 200000            # send early once this many points wait
    exit_timeout = 10                    # seconds the exit waits for the last sends
    heartbeat_interval = 30              # seconds of silence before the run pings the server
    git_timeout = 30                     # seconds each git command may take (the diff)
    start_timeout = 5                    # seconds Task.init waits for the server, then offline
    file_history_size = 100              # debug samples kept per title/series (newest iterations)

    config = load_config()
    client = ApiClient(config.api_url, token=config.api_token)

Tables (``[agent]``, ...) are left to the parts that own them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tunelab.errors import ConfigError
from tunelab.sdk.server_list import split_urls

DEFAULT_CONFIG_FILE = "~/.config/tunelab/config.toml"
DEFAULT_API_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class SdkConfig:
    api_url: str = DEFAULT_API_URL
    api_token: str | None = None
    offline: bool = False
    offline_dir: Path = Path("~/.tunelab/offline")
    spool_dir: Path = Path("~/.tunelab/spool")
    log_os_environments: tuple[str, ...] = ()
    full_pip_freeze: bool = False
    default_output_uri: str = ""
    flush_interval: float = 0.5
    max_batch_points: int = 200_000
    exit_timeout: float = 10.0
    heartbeat_interval: float = 30.0
    git_timeout: float = 30.0
    start_timeout: float = 5.0
    web_url: str = ""
    # Debug samples kept per title/series (ClearML's sdk.metrics.file_history_size).
    file_history_size: int = 100
    # The file the values came from (None when there was none).
    config_file: Path | None = field(default=None, compare=False)

    @property
    def api_urls(self) -> tuple[str, ...]:
        """The server's URLs: one, or its replicas' in the order to try them."""
        return tuple(split_urls(self.api_url))

    @property
    def web_app_url(self) -> str:
        """Where people open the web app: ``web_url``, else the origin of ``api_url``
        (its first server)."""
        if self.web_url:
            return self.web_url
        parts = urlsplit(self.api_urls[0])
        return f"{parts.scheme}://{parts.netloc}"


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {value!r}")
    return value


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"", "0", "false", "no", "off"}:
            return False
    raise ValueError(f"must be true or false, got {value!r}")


def _as_positive_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"must be a number of seconds, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"must be a number of seconds, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ValueError(f"must be a positive number, got {value!r}")
    return number


def _as_seconds(value: Any) -> float:
    """A wait in seconds; 0 means one try, no wait."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            if float(value) == 0:
                return 0.0
        except ValueError:
            pass  # the message below names the value
    return _as_positive_float(value)


def _as_positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"must be a whole number, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"must be a whole number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"must be positive, got {number}")
    return number


def _as_names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # from the environment: "CUDA_*,SLURM_JOB_ID"
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError(f"must be a list of variable names, got {value!r}")


def _as_urls(value: Any) -> str:
    """One server URL, or several (a server's replicas): a comma-separated text (what the
    environment holds) or a list; kept as the comma-separated text."""
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        urls = value
    elif isinstance(value, str) and split_urls(value):
        urls = split_urls(value)
    else:
        raise ValueError(f"must be a URL or a list of URLs, got {value!r}")
    return ",".join(_as_url(url) for url in urls)


def _as_url(value: Any) -> str:
    text = _as_str(value).strip().rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {value!r}")
    return text


# key -> (environment variable, parser); the dataclass field of the same name gets the value.
_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "api_url": ("TUNELAB_API_URL", _as_urls),
    "api_token": ("TUNELAB_API_TOKEN", _as_str),
    "offline": ("TUNELAB_OFFLINE", _as_bool),
    "offline_dir": ("TUNELAB_OFFLINE_DIR", _as_str),
    "spool_dir": ("TUNELAB_SPOOL_DIR", _as_str),
    "log_os_environments": ("TUNELAB_LOG_OS_ENVIRONMENTS", _as_names),
    "full_pip_freeze": ("TUNELAB_FULL_PIP_FREEZE", _as_bool),
    "default_output_uri": ("TUNELAB_DEFAULT_OUTPUT_URI", _as_str),
    "flush_interval": ("TUNELAB_FLUSH_INTERVAL", _as_positive_float),
    "max_batch_points": ("TUNELAB_MAX_BATCH_POINTS", _as_positive_int),
    "exit_timeout": ("TUNELAB_EXIT_TIMEOUT", _as_positive_float),
    "heartbeat_interval": ("TUNELAB_HEARTBEAT_INTERVAL", _as_positive_float),
    "git_timeout": ("TUNELAB_GIT_TIMEOUT", _as_positive_float),
    "start_timeout": ("TUNELAB_START_TIMEOUT", _as_seconds),
    "web_url": ("TUNELAB_WEB_URL", _as_url),
    "file_history_size": ("TUNELAB_FILE_HISTORY_SIZE", _as_positive_int),
}
_PATHS = {"offline_dir", "spool_dir"}


def load_config(
    environ: Mapping[str, str] = os.environ, path: str | os.PathLike[str] | None = None
) -> SdkConfig:
    """Read the SDK's settings; ``path`` replaces the config file's usual location."""
    file_path = config_file_path(environ, path)
    from_file = _read_file(file_path)
    values: dict[str, Any] = {}
    for key, (variable, parse) in _SETTINGS.items():
        raw = environ.get(variable)
        if raw is not None and (raw != "" or key == "offline"):
            where = f"environment variable {variable}"
        elif key in from_file:
            raw, where = from_file[key], f"{file_path}: key {key!r}"
        else:
            continue
        try:
            value = parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{where} {exc}", {"key": key, "source": where}) from None
        values[key] = _expand(value, environ) if key in _PATHS else value
    defaults = SdkConfig()
    for key in _PATHS:
        values.setdefault(key, _expand(str(getattr(defaults, key)), environ))
    return SdkConfig(**values, config_file=file_path if file_path.is_file() else None)


def config_file_path(
    environ: Mapping[str, str] = os.environ, path: str | os.PathLike[str] | None = None
) -> Path:
    """Where the config file is: ``path``, else ``TUNELAB_CONFIG_FILE``, else the default."""
    if path is not None:
        return _expand(str(path), environ)
    return _expand(environ.get("TUNELAB_CONFIG_FILE", DEFAULT_CONFIG_FILE), environ)


def read_config_tables(path: Path) -> dict[str, Any]:
    """The config file's TOML as a dict ({} when there is none); ConfigError when it cannot
    be read. Its sections (``[[storage.*]]``, ``[[git]]``) are read by their owners."""
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", {"path": str(path)}) from None


def _read_file(path: Path) -> dict[str, Any]:
    data = read_config_tables(path)
    unknown = sorted(k for k, v in data.items() if k not in _SETTINGS and not isinstance(v, dict))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r}; known keys: {', '.join(_SETTINGS)}",
            {"path": str(path), "key": unknown[0]},
        )
    return data


def _expand(path: str, environ: Mapping[str, str]) -> Path:
    if path == "~" or path.startswith("~/"):
        home = environ.get("HOME") or str(Path.home())
        return Path(home + path[1:])
    return Path(path).expanduser()

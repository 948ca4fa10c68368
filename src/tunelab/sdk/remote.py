"""Remote mode: the script runs under an agent (``TUNELAB_TASK_ID`` is set) and takes the
values stored on the task, edited or not, instead of the ones in its code.

Nothing in the script changes: argparse and click get the stored ``Args`` at parse time
(even when parsing happens before ``Task.init``), ``connect`` refills the dict or object in
place, ``connect_configuration`` returns the stored configuration, and the ``Environment``
section is exported to ``os.environ``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab.domain.task import SECTION_ARGS, SECTION_ENVIRONMENT, SECTION_TF_DEFINE
from tunelab.errors import InvalidInput
from tunelab.sdk import parameters as P
from tunelab.sdk.config import load_config
from tunelab.sdk.secrets import is_masked
from tunelab.sdk.transport import ApiClient

if TYPE_CHECKING:
    import click

TASK_ID_ENV = "TUNELAB_TASK_ID"
AGENT_ENV = "TUNELAB_AGENT"

_fetched: dict[str, dict[str, Any]] = {}
_fetch_lock = threading.Lock()


def remote_task_id() -> str | None:
    return os.environ.get(TASK_ID_ENV) or None


def under_agent() -> bool:
    """True when an agent runs this script (it streams the console itself)."""
    return os.environ.get(AGENT_ENV, "") not in ("", "0", "false")


def remote_task(client: ApiClient | None = None) -> dict[str, Any]:
    """The task this process runs as, fetched once."""
    task_id = remote_task_id()
    if task_id is None:
        raise InvalidInput(f"{TASK_ID_ENV} is not set")
    with _fetch_lock:
        if task_id not in _fetched:
            config = load_config()
            own = client or ApiClient(config.api_url, token=config.api_token)
            _fetched[task_id] = own.get_task(task_id)
        return _fetched[task_id]


def stored_args() -> dict[str, str]:
    section = remote_task().get("hyperparameters", {}).get(SECTION_ARGS, {})
    return {name: body["value"] for name, body in section.items()}


def stored_arg_bodies() -> dict[str, dict[str, str]]:
    """The stored ``Args`` with their types: ``{name: {"value": text, "type": name}}``."""
    section = remote_task().get("hyperparameters", {}).get(SECTION_ARGS, {})
    return {name: {"value": b["value"], "type": b.get("type", "")} for name, b in section.items()}


def jsonargparse_override(_parser: Any) -> Mapping[str, Mapping[str, str]] | None:
    return stored_arg_bodies() if remote_task_id() else None


def fire_override() -> Mapping[str, Mapping[str, str]] | None:
    return stored_arg_bodies() if remote_task_id() else None


def absl_override() -> Mapping[str, Mapping[str, str]] | None:
    """The stored ``TF_DEFINE`` flags with their types, under an agent."""
    if not remote_task_id():
        return None
    section = remote_task().get("hyperparameters", {}).get(SECTION_TF_DEFINE, {})
    return {name: {"value": b["value"], "type": b.get("type", "")} for name, b in section.items()}


def argparse_override(
    _parser: argparse.ArgumentParser, _namespace: argparse.Namespace
) -> Mapping[str, str] | None:
    return stored_args() if remote_task_id() else None


def click_override(_ctx: click.Context) -> Mapping[str, str] | None:
    return stored_args() if remote_task_id() else None


def export_environment(task: Mapping[str, Any]) -> None:
    for name, body in task.get("hyperparameters", {}).get(SECTION_ENVIRONMENT, {}).items():
        if not is_masked(body["value"]):  # recorded masked: this machine's own value stays
            os.environ[name] = body["value"]


def inject(target: Any, stored: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Set each stored ``name -> value`` on ``target`` (dict, nested dicts, or object),
    cast to the type of the value the code has. Returns names only the code has."""
    local = P.flatten(dict(target)) if isinstance(target, Mapping) else P.object_fields(target)
    for name, body in stored.items():
        like = _lookup(target, name)
        try:
            value = P.cast_text(body["value"], like, body.get("type", "str"))
        except ValueError as exc:
            raise InvalidInput(f"parameter {name!r}: {exc}") from None
        _assign(target, name, value)
    return [name for name in local if name not in stored]


def configuration(original: Any, stored: Mapping[str, str]) -> Any:
    """The stored configuration in the shape the code gave: a dict refilled in place, or
    the path of a temporary file holding the stored text."""
    text = stored.get("text", "")
    if isinstance(original, MutableMapping):
        value = P.parse_structure(text) if text.strip() else {}
        if not isinstance(value, Mapping):
            raise InvalidInput("the stored configuration is not a mapping")
        original.clear()
        original.update(value)
        return original
    suffix = Path(original).suffix
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the path outlives this call
        "w", suffix=suffix, prefix="tunelab-config-", delete=False
    )
    with handle:
        handle.write(text)
    return Path(handle.name) if isinstance(original, Path) else handle.name


def _lookup(target: Any, name: str) -> Any:
    if not isinstance(target, Mapping):
        return getattr(target, name, None)
    if name in target:
        return target[name]
    head, sep, rest = name.partition("/")
    if sep and isinstance(target.get(head), Mapping):
        return _lookup(target[head], rest)
    return None


def _assign(target: Any, name: str, value: Any) -> None:
    if not isinstance(target, MutableMapping):
        setattr(target, name, value)
        return
    if name in target:
        target[name] = value
        return
    head, sep, rest = name.partition("/")
    if sep and isinstance(target.get(head), MutableMapping):
        _assign(target[head], rest, value)
    elif sep and head not in target:
        target[head] = {}
        _assign(target[head], rest, value)
    else:
        target[name] = value

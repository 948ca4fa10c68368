"""Starting a run: creating the task with what can be known at once, then capturing the
rest (arguments as they are parsed, source code and packages) without delaying the script."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tunelab.domain.task import SECTION_ARGS, Parameter
from tunelab.errors import TunelabError
from tunelab.sdk import remote
from tunelab.sdk.capture import (
    argparse_parameters,
    capture_environment,
    capture_requirements,
    capture_runtime,
    capture_source,
    click_parameters,
    environment_patterns,
    hook_argparse,
    hook_click,
)
from tunelab.sdk.capture.packages import REQUIREMENTS_LOCK, merge_requirements
from tunelab.sdk.config import SdkConfig
from tunelab.sdk.offline import OfflineClient
from tunelab.sdk.run_session import RunSession, script_path
from tunelab.sdk.transport import ApiClient

# Arguments parsed before Task.init are kept here and sent once the task exists.
_parsed: list[list[Parameter]] = []
_on_args: list[Any] = []


def _record(params: list[Parameter]) -> None:
    if _on_args:
        _on_args[0](params)
    else:
        _parsed.append(params)


# Under an agent the stored Args replace the command line's values at parse time, even when
# the script parses before Task.init.
hook_argparse(
    lambda parser, namespace: _record(argparse_parameters(parser, namespace)),
    override=remote.argparse_override,
)
hook_click(lambda ctx: _record(click_parameters(ctx)), override=remote.click_override)


def default_task_name() -> str:
    path = script_path()
    return path.stem if path else "interactive"


def start(
    config: SdkConfig,
    *,
    offline: bool,
    project: str,
    name: str,
    task_type: str,
    tags: list[str],
    output_uri: str,
    capture_console: bool,
) -> tuple[Any, dict[str, Any], RunSession]:
    """Create the task (status ``running``) and the session that records the run."""
    client: Any
    if offline:
        folder = config.offline_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        client = OfflineClient(folder)
    else:
        client = ApiClient(config.api_url, token=config.api_token, as_run=True)
    patterns = environment_patterns(config.log_os_environments, os.environ)
    env_params = capture_environment(patterns, os.environ) if patterns else []
    runtime = capture_runtime()
    body: dict[str, Any] = {
        "user": runtime.os_user,
        "name": name,
        "project": project,
        "type": task_type,
        "tags": tags,
        "status": "running",
        "execution": {"output_uri": output_uri or config.default_output_uri, "binary": _binary()},
        "hyperparameters": _sections(env_params),
        "runtime": runtime.to_dict(),
    }
    data = client.create_task(body)
    try:
        session = RunSession(client, data["id"], config, capture_console=capture_console)
    except BaseException as exc:
        # No session to end the run: say so directly, or the task would stay running.
        reason = f"Task.init failed: {type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            client.update_task(data["id"], status="failed", status_reason=reason)
        raise
    if offline:
        session.offline_folder = client.folder
    return client, data, session


def attach(
    config: SdkConfig, task_id: str, *, capture_console: bool
) -> tuple[ApiClient, dict[str, Any], RunSession]:
    """Remote mode: run as the existing task ``task_id`` (an agent started this script)."""
    client = ApiClient(config.api_url, token=config.api_token, as_run=True)
    data = client.get_task(task_id)
    if data["status"] in ("draft", "queued"):
        # Started by hand with TUNELAB_TASK_ID set, not by an agent: mark it running.
        data = client.update_task(task_id, status="running")
    try:
        data = client.update_task(task_id, runtime=_rerun_runtime(data.get("runtime") or {}))
    except TunelabError as exc:  # e.g. a published task, read-only: the run goes on
        print(f"tunelab: could not record this machine's runtime: {exc}", file=sys.stderr)
    remote.export_environment(data)
    # An agent streams the process's output to the console itself; don't send it twice.
    capture = capture_console and not remote.under_agent()
    session = RunSession(client, task_id, config, capture_console=capture)
    session.under_agent = remote.under_agent()
    return client, data, session


def _rerun_runtime(stored: dict[str, Any]) -> dict[str, Any]:
    """This machine's runtime, keeping the one the task was first recorded on as
    ``original`` (a clone has none; a task run again keeps its first one)."""
    runtime = capture_runtime().to_dict()
    first = stored.get("original") or {k: v for k, v in stored.items() if k != "original"}
    runtime["original"] = first if first.get("host") else None
    return runtime


def announce(data: dict[str, Any], web_url: str) -> None:
    """Print the one line that says which task this run is and where to look at it."""
    task_id = data["id"]
    project = data.get("project") or {}
    print(
        f'Tunelab: task {task_id} "{data.get("name", "")}" in {project.get("name", "")}: '
        f"{web_url}/experiments/{task_id}",
        flush=True,
    )


def connect_arguments(session: RunSession, data: dict[str, Any]) -> None:
    """Send arguments parsed so far, and any parsed later, into ``Args``."""

    def send(params: list[Parameter]) -> None:
        sections = _sections(params)
        data.setdefault("hyperparameters", {}).setdefault(SECTION_ARGS, {}).update(
            sections.get(SECTION_ARGS, {})
        )
        session.call("set_hyperparameters", session.task_id, sections, replace=False)

    for params in _parsed:
        send(params)
    _parsed.clear()
    _on_args[:] = [send]


def capture_source_later(session: RunSession, data: dict[str, Any]) -> None:
    """Record repository, commit, diff, entry point and packages from a background thread."""
    path = script_path()
    cwd = Path.cwd()

    def work() -> None:
        execution: dict[str, str] = {}
        try:
            if path is not None:
                source = capture_source(path, cwd)
                execution.update({k: v for k, v in asdict(source).items() if k in _SOURCE_FIELDS})
                root = Path(source.root) if getattr(source, "root", "") else path.parent
                requirements = capture_requirements(
                    path, root, full_freeze=session.config.full_pip_freeze
                )
                execution["requirements"] = requirements
                execution["original_requirements"] = requirements
            else:
                execution["working_dir"] = str(cwd)
        except Exception as exc:  # capture is best effort; the run goes on
            print(f"tunelab: could not capture the source code: {exc}", file=sys.stderr)
        with REQUIREMENTS_LOCK:
            # Packages the run found it needs meanwhile (a fetched artifact's format) stay.
            recorded = data.setdefault("execution", {})
            if "requirements" in execution and recorded.get("requirements"):
                needed = recorded["requirements"].splitlines()
                for key in ("requirements", "original_requirements"):
                    execution[key] = merge_requirements(execution[key], needed)
            recorded.update(execution)
            session.call("update_task", session.task_id, execution=execution)

    thread = threading.Thread(target=work, name="tunelab-capture", daemon=True)
    session.before_close.insert(0, lambda: thread.join(timeout=30))
    thread.start()


_SOURCE_FIELDS = {"repository", "branch", "commit", "entry_point", "working_dir", "diff"}


def _binary() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _sections(params: list[Parameter]) -> dict[str, dict[str, dict[str, str]]]:
    sections: dict[str, dict[str, dict[str, str]]] = {}
    for p in params:
        sections.setdefault(p.section, {})[p.name] = {
            "value": p.value,
            "type": p.type,
            "description": p.description,
        }
    return sections

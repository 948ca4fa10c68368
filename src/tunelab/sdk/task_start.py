"""Starting a run: creating the task with what can be known at once, then capturing the
rest (arguments as they are parsed, source code and packages) without delaying the script."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tunelab.domain.storable_text import storable
from tunelab.domain.task import Parameter
from tunelab.errors import TunelabError
from tunelab.sdk import capture_warnings, offline_fallback, own_requests, remote, task_reuse
from tunelab.sdk.capture import (
    absl_flags,
    argparse_parameters,
    capture_environment,
    capture_requirements,
    capture_runtime,
    capture_source,
    click_parameters,
    environment_patterns,
    fire_args,
    hook_argparse,
    hook_click,
    hydra_config,
)
from tunelab.sdk.capture.import_hooks import when_imported
from tunelab.sdk.capture.jsonargparse_args import hook_jsonargparse
from tunelab.sdk.capture.notebook import kernel_shell, notebook_script
from tunelab.sdk.capture.packages import REQUIREMENTS_LOCK, merge_requirements
from tunelab.sdk.capture.script_text import text_source
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
when_imported(
    "jsonargparse",
    lambda module: hook_jsonargparse(module, _record, remote.jsonargparse_override),
)
hydra_config.install()
when_imported("fire", lambda module: fire_args.install_fire(module, _record, remote.fire_override))
when_imported(
    "absl.flags",
    lambda module: absl_flags.install_absl_flags(module, _record, remote.absl_override),
)
when_imported("absl.logging", lambda module: absl_flags.follow_stderr(module))


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
    reuse: bool | str = False,
) -> tuple[Any, dict[str, Any], RunSession]:
    """Create the task (status ``running``) and the session that records the run; offline
    when the server stays unreachable (``offline_fallback``)."""
    own_requests.install()
    client: Any
    if offline:
        client = OfflineClient(offline_fallback.session_folder(config))
    else:
        client = ApiClient(config.api_url, token=config.api_token, as_run=True)
    patterns = environment_patterns(config.log_os_environments, os.environ)
    env_params = capture_environment(patterns, os.environ) if patterns else []
    runtime = capture_runtime()
    # A NUL or half a surrogate pair in a name or tag is U+FFFD, as in everything the run
    # sends, rather than the server refusing to start the run.
    body: dict[str, Any] = storable({
        "user": runtime.os_user,
        "name": name,
        "project": project,
        "type": task_type,
        "tags": tags,
        "status": "running",
        "execution": {"output_uri": output_uri or config.default_output_uri, "binary": _binary()},
        "hyperparameters": _sections(env_params),
        "runtime": runtime.to_dict(),
    })  # fmt: skip
    if offline:
        data = client.create_task(body)
    else:
        # reuse_last_task_id: the last run's task, when it recorded nothing (task_reuse).
        data = task_reuse.take_over(client, body, reuse, script_path()) if reuse else None
        if data is None:
            client, data = offline_fallback.create_task(client, body, config)
        if isinstance(client, ApiClient):
            task_reuse.remember(client, body, data["id"], script_path())
    try:
        session = RunSession(client, data["id"], config, capture_console=capture_console)
    except BaseException as exc:
        # No session to end the run: say so directly, or the task would stay running.
        reason = f"Task.init failed: {type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            client.update_task(data["id"], status="failed", status_reason=reason)
        raise
    if isinstance(client, OfflineClient):
        session.offline_folder = folder = client.folder
        if not offline:  # the server was unreachable: upload at the end if it is back
            session.upload_when_back = lambda: offline_fallback.upload_at_end(folder, config)
    return client, data, session


def attach(
    config: SdkConfig, task_id: str, *, capture_console: bool
) -> tuple[ApiClient, dict[str, Any], RunSession]:
    """Remote mode: run as the existing task ``task_id`` (an agent started this script)."""
    own_requests.install()
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


def connect_capture_warnings(session: RunSession) -> None:
    """Send the run's capture warnings (those raised before Task.init too) to its task,
    queued behind what was reported before them: a server away spools them like the rest."""
    task_id = session.task_id
    capture_warnings.connect(
        lambda entry: session.call("record_capture_warnings", task_id, [entry])
    )


def connect_arguments(session: RunSession, data: dict[str, Any]) -> None:
    """Send arguments parsed so far, and any parsed later, into ``Args``."""

    @capture_warnings.guard("the command-line arguments")
    def send(params: list[Parameter]) -> None:
        sections = _sections(params)
        for section, values in sections.items():  # Args, and TF_DEFINE for absl flags
            data.setdefault("hyperparameters", {}).setdefault(section, {}).update(values)
        session.call("set_hyperparameters", session.task_id, sections, replace=False)

    for params in _parsed:
        send(params)
    _parsed.clear()
    _on_args[:] = [send]


def capture_source_later(session: RunSession, data: dict[str, Any]) -> None:
    """Record repository, commit, diff, entry point and packages from a background thread."""
    shell = kernel_shell()
    if shell is not None:
        _capture_notebook(session, data, shell)
        return
    path = script_path()
    cwd = hydra_config.original_cwd() or Path.cwd()  # a Hydra job may run in its output dir

    def work() -> None:
        execution: dict[str, str] = {}
        root = path.parent if path is not None else cwd
        with capture_warnings.guarded("the source code"):
            if path is not None:
                source = capture_source(path, cwd, timeout=session.config.git_timeout)
                execution.update({k: v for k, v in asdict(source).items() if k in _SOURCE_FIELDS})
                root = Path(source.root) if getattr(source, "root", "") else path.parent
                _warn_source(source)
            else:
                execution["working_dir"] = str(cwd)
        with capture_warnings.guarded("the installed packages"):
            if path is not None:
                requirements = capture_requirements(
                    path, root, full_freeze=session.config.full_pip_freeze
                )
                execution["requirements"] = requirements
                execution["original_requirements"] = requirements
        with REQUIREMENTS_LOCK, capture_warnings.guarded("the source code"):
            # Packages the run found it needs meanwhile (a fetched artifact's format) stay.
            recorded = data.setdefault("execution", {})
            if "requirements" in execution and recorded.get("requirements"):
                needed = recorded["requirements"].splitlines()
                for key in ("requirements", "original_requirements"):
                    execution[key] = merge_requirements(execution[key], needed)
            recorded.update(execution)
            session.call("update_task", session.task_id, execution=execution)

    thread = threading.Thread(target=work, name="tunelab-capture", daemon=True)
    # A slow git (each command up to git_timeout, the diff tried twice) still gets recorded.
    wait = 30 + 2 * session.config.git_timeout
    session.before_close.insert(0, lambda: thread.join(timeout=wait))
    thread.start()


_SOURCE_FIELDS = {
    "repository",
    "branch",
    "commit",
    "entry_point",
    "working_dir",
    "diff",
    "diff_error",
}


def _warn_source(source: Any) -> None:
    """The parts of the source that could not be read become the run's capture warnings."""
    if getattr(source, "diff_error", ""):
        capture_warnings.warn("the uncommitted changes", source.diff_error)
    for problem in getattr(source, "warnings", ()):
        capture_warnings.warn("the source code", problem)


def _capture_notebook(session: RunSession, data: dict[str, Any], shell: Any) -> None:
    """A notebook's code as a script, sent now, after each cell that changes it, and (with
    its packages again) when the run ends."""
    sent = {"text": ""}

    def send(with_requirements: bool) -> None:
        with capture_warnings.guarded("the notebook's code"):
            entry_point, text = notebook_script(shell)
            source = asdict(text_source(entry_point, text))
            execution: dict[str, str] = {k: v for k, v in source.items() if k in _SOURCE_FIELDS}
            if with_requirements:
                with tempfile.TemporaryDirectory(prefix="tunelab-notebook-") as scratch:
                    script = Path(scratch, entry_point)
                    script.write_text(text)
                    requirements = capture_requirements(
                        script, script.parent, full_freeze=session.config.full_pip_freeze
                    )
                execution["requirements"] = execution["original_requirements"] = requirements
            elif text == sent["text"]:
                return
            sent["text"] = text
            data.setdefault("execution", {}).update(execution)
            session.call("update_task", session.task_id, execution=execution)

    def after_cell(*_: Any) -> None:
        send(with_requirements=False)

    def at_the_end() -> None:
        with capture_warnings.guarded("the notebook's code"):
            shell.events.unregister("post_run_cell", after_cell)
        send(with_requirements=True)

    send(with_requirements=True)
    with capture_warnings.guarded("the notebook's code"):
        shell.events.register("post_run_cell", after_cell)
    session.before_close.append(at_the_end)


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

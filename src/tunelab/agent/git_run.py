"""A task started from a repository commit (its ``git_run``): the run's inputs written into
the checkout, and the script that runs instead of an entry point.

    checkout ─► parameter files written ─► data files downloaded (sha256 checked)
      ─► environment (+ dvc when the script calls it) ─► ``bash -e`` script in the root

Each parameter file's values are the task's hyperparameter section named as the file
(``params.yaml``): every key whose text differs from the file's is written back with
``params_files.apply_overrides``, so the file keeps its format, comments and key order. A data
file comes from its URI through ``tunelab.storage``; one whose content does not match its
recorded sha256 fails the task. A replaced file that DVC tracks (``<path>.dvc`` beside it) is
then added to DVC, so the run (``dvc pull``, ``dvc repro``) uses the new content and the
results commit records it.

DVCLive's live metrics reach the running task: ``DVC_STUDIO_URL`` is the server and
``DVC_STUDIO_TOKEN`` the task's own key; the server's ``/api/live`` records the events of a
task's key on that task (``tunelab.server.dvc_live``), whatever experiment name DVCLive picks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tunelab.agent.errors import AgentError
from tunelab.domain.git_run import GitRun
from tunelab.errors import TunelabError
from tunelab.params_files import apply_overrides, flat_params
from tunelab.sdk.parameters import param_body

Log = Callable[[str], None]

SCRIPT_FILE = "git-run.sh"
# A word ``dvc`` as a command: at a line's start or after a shell separator.
_CALLS_DVC = re.compile(r"(?:^|[;&|(`]|\$\()\s*(?:\w+=\S*\s+)*dvc(?:\s|$)", re.MULTILINE)


def git_run_of(task: Mapping[str, Any]) -> GitRun | None:
    """The task's ``git_run``, None for an ordinary task. ``runs_on`` only says who starts
    the run (a queue's agent, or the repository's CI running ``tunelab agent execute``):
    the agent runs it the same way."""
    raw = task.get("git_run")
    return GitRun.from_dict(raw) if isinstance(raw, Mapping) else None


def inside(code: Path, path: str) -> Path:
    """``path`` inside the work dir ``code``; AgentError for one that would leave it or
    land in ``.git``."""
    target = (code / path).resolve()
    root = code.resolve()
    if not path or not target.is_relative_to(root) or target == root:
        raise AgentError(f"{path!r} is not a file path inside the repository")
    if target.relative_to(root).parts[0] == ".git":
        raise AgentError(f"{path!r} is inside .git")
    return target


def write_params(
    code: Path, run: GitRun, hyperparameters: Mapping[str, Any], log: Log
) -> list[str]:
    """Write each parameter file's section into the file; the files changed."""
    changed: list[str] = []
    for path in run.params_files:
        target = inside(code, path)
        if not target.is_file():
            raise AgentError(f"the parameter file {path} is not in the repository")
        text = target.read_text()
        current = flat_params(path, text)
        section = hyperparameters.get(path)
        wanted: dict[str, Any] = {}
        for key, entry in (section if isinstance(section, Mapping) else {}).items():
            if not isinstance(entry, Mapping) or key not in current:
                continue
            value = entry.get("value")
            if value is None or param_body(current[key].value)["value"] == value:
                continue  # unchanged: the file keeps its own spelling of it
            if entry.get("type") == "NoneType" and value in ("", "None", "null"):
                value = None
            wanted[key] = value
        if not wanted:
            continue
        try:
            target.write_text(apply_overrides(path, text, wanted))
        except TunelabError as exc:
            raise AgentError(f"{path}: {exc.message}") from None
        log(f"tunelab agent: wrote {', '.join(sorted(wanted))} into {path}")
        changed.append(path)
    return changed


def fetch_data_files(code: Path, run: GitRun, storage: Any, log: Log) -> None:
    """Download each data file into its path; AgentError when one fails or its content
    does not match its sha256."""
    from tunelab.storage import download

    for data in run.data_files:
        target = inside(code, data.path)
        log(f"tunelab agent: downloading {data.path} from {data.uri}")
        try:
            local = download(data.uri, storage, sha256=data.sha256)
        except TunelabError as exc:
            raise AgentError(f"{data.path}: {exc.message}") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.is_dir():
            raise AgentError(f"{data.path} is a link or a folder in the repository")
        shutil.copyfile(local, target)


def calls_dvc(script: str) -> bool:
    """Whether the script runs ``dvc`` (its environment then gets DVC)."""
    return bool(_CALLS_DVC.search(script))


def requirements_for(run: GitRun, requirements: str, code: Path) -> str:
    """The task's requirements, with the repository's ``requirements.txt`` when the task names
    none, and ``dvc`` when the script calls it."""
    lines = requirements
    if not lines.strip() and (code / "requirements.txt").is_file():
        lines = (code / "requirements.txt").read_text()
    if calls_dvc(run.script) and not re.search(r"(?im)^\s*dvc(\[|[=<>~!\s]|$)", lines):
        lines = f"{lines.rstrip()}\ndvc\n" if lines.strip() else "dvc\n"
    return lines


def track_replaced_data(code: Path, run: GitRun, env: Mapping[str, str], log: Log) -> None:
    """``dvc add`` each replaced data file that DVC tracks, so the run uses it."""
    tracked = [d.path for d in run.data_files if (code / f"{d.path}.dvc").is_file()]
    if not tracked:
        return
    log(f"tunelab agent: dvc add {' '.join(tracked)}")
    done = subprocess.run(
        ["dvc", "add", "--quiet", *tracked],
        cwd=code,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AgentError(f"dvc add failed: {(done.stderr or done.stdout).strip()[-1000:]}")


def write_script(task_dir: Path, run: GitRun) -> Path:
    """The run's script, beside the work dir (never committed with the results)."""
    if not run.script.strip():
        raise AgentError("the task's script is empty")
    path = task_dir / SCRIPT_FILE
    path.write_text(run.script if run.script.endswith("\n") else run.script + "\n")
    return path


def studio_variables(server_url: str, task_key: str, repository: str) -> dict[str, str]:
    """What DVCLive (dvc-studio-client) needs to send its live metrics to this task."""
    found = {"DVC_STUDIO_URL": server_url.rstrip("/"), "DVC_STUDIO_REPO_URL": repository}
    if task_key:
        found["DVC_STUDIO_TOKEN"] = task_key
    return found

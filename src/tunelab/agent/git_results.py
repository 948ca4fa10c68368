"""A git run's results, committed by the agent and handed to the server to push.

When the script succeeds the agent commits, in the task's work dir, with the message and
description the user entered (author: the task's user; committer: Tunelab): the parameter
files, every file the run changed that the repository tracks (``git add -u``), ``dvc.lock``
and the metrics and plots files ``dvc.yaml`` names. It runs ``dvc push`` when a DVC remote is
configured (a failure is a warning on the task, not a failed run), makes a ``git bundle`` of
the results commit on top of the task's commit, stores it as the task's artifact
``git-results`` and reports the commit. The agent never pushes: the server does, with its own
``[[git]]`` credentials (``tunelab.server.git_results``).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tunelab.agent.errors import AgentError
from tunelab.agent.repository import git
from tunelab.domain.git_run import GitRun
from tunelab.gitops.refs import check_path

Log = Callable[[str], None]

RESULTS_ARTIFACT = "git-results"
RESULTS_REF = "refs/tunelab/results"
BUNDLE_FILE = "results.bundle"
COMMITTER = ("Tunelab", "tunelab@localhost")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# A section ``['remote "name"']`` of DVC's config file.
_DVC_REMOTE = re.compile(r"""^\s*\[\s*'?remote\s+"[^"]+"'?\s*\]""", re.MULTILINE)


def author_of(task: Mapping[str, Any]) -> tuple[str, str]:
    """The results commit's author: the task's user (an address made from the name)."""
    name = str(task.get("user") or "").strip() or "tunelab"
    local = _UNSAFE.sub(".", name).strip(".") or "user"
    return name, f"{local}@users.tunelab"


def dvc_outputs(code: Path) -> list[str]:
    """The metrics and plots files ``dvc.yaml`` names (top level and each stage's)."""
    path = code / "dvc.yaml"
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return []
    if not isinstance(data, dict):
        return []
    entries: list[Any] = []
    for key in ("metrics", "plots"):
        entries += _as_list(data.get(key))
    stages = data.get("stages")
    for stage in stages.values() if isinstance(stages, dict) else []:
        if isinstance(stage, dict):
            entries += _as_list(stage.get("metrics")) + _as_list(stage.get("plots"))
    found: list[str] = []
    for entry in entries:
        for name in [entry] if isinstance(entry, str) else list(entry or {}):
            try:
                found.append(check_path(str(name)))
            except Exception:  # a plot's id that is no path ("confusion")
                continue
    return list(dict.fromkeys(found))


def commit_results(code: Path, run: GitRun, task: Mapping[str, Any], log: Log) -> str:
    """The results commit's sha (made even when nothing changed, so the branch exists)."""
    git("add", "-u", cwd=code)
    # DVC's own files: the lock, and the .gitignore it writes for the outputs it caches.
    wanted = [*run.params_files, "dvc.lock", ".gitignore", *dvc_outputs(code)]
    wanted += [f"{d.path}.dvc" for d in run.data_files]
    present = [p for p in dict.fromkeys(wanted) if (code / p).is_file()]
    if present:
        ignored = _ignored(code, present)
        addable = [p for p in present if p not in ignored]
        if addable:
            git("add", "--", *addable, cwd=code)
    name, email = author_of(task)
    message = run.commit_message.strip() or f"Results of {task.get('name') or task['id']}"
    args = ["git", "commit", "--quiet", "--allow-empty", "--no-verify", "-m", message]
    if run.commit_description.strip():
        args += ["-m", run.commit_description.strip()]
    # The identities in the environment: they win over any the machine's git sets.
    identity = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": COMMITTER[0],
        "GIT_COMMITTER_EMAIL": COMMITTER[1],
    }
    done = _run(args, code, {**os.environ, "GIT_TERMINAL_PROMPT": "0", **identity})
    if done.returncode != 0:
        raise AgentError(f"git commit failed: {_last_line(done)}")
    sha = git("rev-parse", "HEAD", cwd=code)
    changed = git("show", "--name-only", "--format=", sha, cwd=code).splitlines()
    log(f"tunelab agent: results commit {sha[:12]}: {', '.join(changed) or 'no changes'}")
    return sha


def dvc_push(code: Path, env: Mapping[str, str], log: Log) -> str:
    """``dvc push`` when the repository configures a DVC remote; the warning ('' when
    pushed or nothing to push to)."""
    if not has_dvc_remote(code):
        return ""
    log("tunelab agent: dvc push")
    done = _run(["dvc", "push"], code, env)
    for line in (done.stdout + done.stderr).splitlines():
        if line.strip():
            log(line)
    if done.returncode != 0:
        return f"dvc push failed (exit {done.returncode}): {_last_line(done)}"
    return ""


def has_dvc_remote(code: Path) -> bool:
    """Whether the repository's DVC config (or its local one) names a remote; read here
    rather than asking ``dvc remote list``, which costs a DVC start."""
    for name in ("config", "config.local"):
        path = code / ".dvc" / name
        if path.is_file() and _DVC_REMOTE.search(path.read_text(errors="replace")):
            return True
    return False


def make_bundle(code: Path, base: str, sha: str, dest: Path) -> Path:
    """``git bundle`` of the results commit on top of ``base`` (the server has ``base``)."""
    git("update-ref", RESULTS_REF, sha, cwd=code)
    git("bundle", "create", "--quiet", str(dest), RESULTS_REF, f"^{base}", cwd=code)
    return dest


def store_bundle(
    client: Any, storage: Any, task: Mapping[str, Any], bundle: Path
) -> dict[str, Any]:
    """Upload the bundle where the task's artifacts go and record it as ``git-results``."""
    from tunelab.storage import join_uri, upload

    project = str((task.get("project") or {}).get("name") or "Default")
    folder = f"{_safe(str(task.get('name') or 'task'))}.{task['id']}"
    base = str((task.get("execution") or {}).get("output_uri") or "") or "tunelab://"
    parts = [_safe(p) for p in project.split("/") if p]
    uri = join_uri(base, *parts, folder, "artifacts", RESULTS_ARTIFACT, BUNDLE_FILE)
    stored = upload(bundle, uri, storage)
    body = {
        "type": "file",
        "format": "git-bundle",
        "uri": stored.uri,
        "size": stored.size,
        "sha256": stored.sha256,
        "metadata": {},
    }
    recorded: dict[str, Any] = client.put_artifact(str(task["id"]), RESULTS_ARTIFACT, body)
    return recorded


def report_results(client: Any, task_id: str, sha: str) -> dict[str, Any]:
    """Tell the server the results commit; it pushes and answers the git results."""
    answer: dict[str, Any] = client.report_git_results(task_id, sha)
    return answer


def warn_on_task(client: Any, task_id: str, what: str, reason: str) -> None:
    """A warning shown on the task (best effort: the run's outcome does not hang on it)."""
    try:
        client.record_capture_warnings(
            task_id, [{"what": what, "reason": reason, "time": time.time()}]
        )
    except Exception:  # the console has it already
        return


def _ignored(code: Path, paths: list[str]) -> set[str]:
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=code,
        input="".join(f"{p}\n" for p in paths),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise AgentError(f"git check-ignore failed: {done.stderr.strip()}")
    return set(done.stdout.splitlines())


def _run(command: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
        )
    except OSError as exc:
        return subprocess.CompletedProcess(command, 127, "", str(exc))


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [x.strip() for x in (done.stderr + done.stdout).splitlines() if x.strip()]
    return lines[-1][:500] if lines else "no message"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("._") or "_"

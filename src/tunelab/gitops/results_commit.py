"""Results commits in the server's mirror: one brought in from an agent's ``git bundle``, or
one the server makes itself from a task's commit and its recorded uncommitted diff; and the
pull request's text.

The server's own commit is made without a checkout: the commit's tree is read into a
temporary index, the diff applied to it (``git apply --cached``), and the tree written and
committed, so nothing of the mirror's refs or files changes until the push.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunelab.gitops.command import RepositoryUnavailable, run_git

COMMITTER = ("Tunelab", "tunelab@localhost")
BUNDLE_REF = "refs/tunelab/results"


def fetch_bundle(git_dir: Path, bundle: Path, task_id: str) -> str:
    """Bring the bundle's results commit into the mirror; its sha."""
    if not task_id.isalnum():
        raise ValueError(f"not a task id: {task_id!r}")
    ref = f"refs/tunelab/results/{task_id}"
    run_git(["fetch", "--quiet", "--end-of-options", str(bundle), f"+{BUNDLE_REF}:{ref}"],
            git_dir=git_dir)  # fmt: skip
    return run_git(["rev-parse", "--verify", f"{ref}^{{commit}}"], git_dir=git_dir).decode().strip()


def has_commit(git_dir: Path, sha: str) -> bool:
    try:
        run_git(["cat-file", "-e", f"{sha}^{{commit}}"], git_dir=git_dir, timeout=10)
    except RepositoryUnavailable:
        return False
    return True


def branch_exists(git_dir: Path, branch: str) -> bool:
    try:
        run_git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], git_dir=git_dir)
    except RepositoryUnavailable:
        return False
    return True


def commit_diff(
    git_dir: Path, commit: str, diff: str, message: str, author: tuple[str, str]
) -> str:
    """A new commit on top of ``commit`` holding ``diff`` (may be empty); its sha.
    RepositoryUnavailable when the diff does not apply."""
    with tempfile.TemporaryDirectory(prefix="tunelab-index-") as scratch:
        env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
        run_git(["read-tree", commit], git_dir=git_dir, env=env)
        if diff.strip():
            payload = diff if diff.endswith("\n") else diff + "\n"
            run_git(["apply", "--cached", "--whitespace=nowarn", "--binary", "-"],
                    git_dir=git_dir, env=env, stdin=payload.encode())  # fmt: skip
        tree = run_git(["write-tree"], git_dir=git_dir, env=env).decode().strip()
    identity = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": COMMITTER[0],
        "GIT_COMMITTER_EMAIL": COMMITTER[1],
    }
    out = run_git(["commit-tree", tree, "-p", commit, "-F", "-"],
                  git_dir=git_dir, env=identity, stdin=message.encode())  # fmt: skip
    return out.decode().strip()


def pull_request_body(
    name: str,
    link: str,
    changes: Sequence[tuple[str, str, str, str]],
    metrics: Mapping[str, Any],
) -> str:
    """The pull request's text: the parameter changes (file, key, old, new), the final
    metrics, and a link back to the experiment."""
    lines = [f"Results of the Tunelab experiment [{name}]({link}).", ""]
    if changes:
        lines.append("Parameter changes:")
        lines += [f"- `{file}` `{key}`: {old} → {new}" for file, key, old, new in changes]
    else:
        lines.append("No parameter changes.")
    lines.append("")
    if metrics:
        lines.append("Metrics:")
        lines += [f"- {key}: {value}" for key, value in metrics.items()]
        lines.append("")
    return "\n".join(lines)

"""A task's code, rebuilt: one cached mirror per repository, a work dir per task, the diff.

The mirror (``git clone --mirror``) is made once per repository URL or local path and fetched
again only when it lacks the task's commit (or, for a task that records only a branch, to
read the branch's current head). Each task gets its own work dir cloned from the mirror with
``--shared`` (objects are borrowed, not copied, so this takes milliseconds), checked out at the
commit on a branch of the recorded name, with ``origin`` pointing at the real repository so a
run recorded from the work dir names the same source. The task's uncommitted diff (untracked
files included, as new-file hunks) is then applied with ``git apply``. A task recorded from
no repository (a plain script, a notebook) holds its script's text there instead, and
``write_script`` puts it in an empty work dir.

Several agents on one machine may share the cache: a mirror is created and fetched under a
file lock, and created in a temporary directory renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tunelab.agent.errors import AgentError

GIT_TIMEOUT = 600.0
NO_REPOSITORY = "the task records no repository, so its code cannot be rebuilt"


def _git_env() -> dict[str, str]:
    # Never wait for a password on a terminal nobody watches; answers in plain English.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    """Run git; its stdout as text. A failure raises AgentError with git's own message."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=_git_env(),
            timeout=GIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise AgentError(f"git {args[0]} timed out after {GIT_TIMEOUT:.0f}s") from None
    except OSError as exc:
        raise AgentError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise AgentError(f"git {args[0]} failed: {message}")
    return done.stdout.decode(errors="replace").strip()


class RepositoryCache:
    """Mirrors of the repositories tasks came from, kept under ``cache_dir``.

    >>> repos = RepositoryCache(Path("~/.tunelab/agent/repos").expanduser())
    >>> work = repos.checkout("https://github.com/me/proj.git", "9fceb02...", "main", dest)
    >>> apply_diff(work, task["execution"]["diff"])  # doctest: +SKIP
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)

    def mirror_path(self, repository: str) -> Path:
        digest = hashlib.sha256(repository.encode()).hexdigest()[:16]
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", repository.rstrip("/").rsplit("/", 1)[-1])
        return self.cache_dir / f"{name.removesuffix('.git')[:40]}-{digest}.git"

    def checkout(self, repository: str, commit: str, branch: str, dest: Path) -> Path:
        """A fresh work dir at ``dest`` holding ``repository`` at ``commit``.

        With no commit, the head of ``branch`` (or of the default branch) as fetched now.
        """
        if not repository.strip():
            raise AgentError(NO_REPOSITORY)
        mirror = self.mirror(repository, commit)
        target = commit or self._branch_head(mirror, repository, branch)
        dest = Path(dest)
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "--quiet", "--shared", "--no-checkout", str(mirror), str(dest))
        git("remote", "set-url", "origin", repository, cwd=dest)
        if branch:
            git("checkout", "--quiet", "-B", branch, target, cwd=dest)
        else:
            git("checkout", "--quiet", "--detach", target, cwd=dest)
        if (dest / ".gitmodules").is_file():
            git("submodule", "update", "--quiet", "--init", "--recursive", cwd=dest)
        return dest

    def mirror(self, repository: str, commit: str = "") -> Path:
        """The mirror of ``repository``, holding ``commit`` (fetched when it is missing)."""
        path = self.mirror_path(repository)
        with self._locked(path):
            if not path.is_dir():
                self._clone_mirror(repository, path)
            elif not commit or not _has_commit(path, commit):
                # A task naming only a branch wants the branch as it is now.
                _fetch(path, repository)
            if commit and not _has_commit(path, commit):
                raise AgentError(
                    f"commit {commit} is not in {repository} (was it pushed?)",
                    {"repository": repository, "commit": commit},
                )
        return path

    def _clone_mirror(self, repository: str, path: Path) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".clone-", dir=self.cache_dir))
        try:
            try:
                git("clone", "--quiet", "--mirror", repository, str(scratch / "mirror.git"))
            except AgentError as exc:
                raise AgentError(f"cannot clone {repository}: {exc.message}") from None
            os.rename(scratch / "mirror.git", path)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _branch_head(self, mirror: Path, repository: str, branch: str) -> str:
        ref = f"refs/heads/{branch}" if branch else "HEAD"
        try:
            return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror)
        except AgentError:
            raise AgentError(
                f"the task records no commit and {repository} has no branch "
                f"{branch or '(default)'} to take the head of"
            ) from None

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _has_commit(mirror: Path, commit: str) -> bool:
    try:
        git("cat-file", "-e", f"{commit}^{{commit}}", cwd=mirror)
    except AgentError:
        return False
    return True


def _fetch(mirror: Path, repository: str) -> None:
    try:
        git("fetch", "--quiet", "--prune", "origin", cwd=mirror)
    except AgentError as exc:
        raise AgentError(f"cannot fetch {repository}: {exc.message}") from None


def apply_diff(dest: Path, diff: str) -> None:
    """Apply a task's recorded uncommitted changes to its work dir; '' changes nothing.

    A diff that does not apply raises AgentError naming the repository and commit.
    """
    if not diff.strip():
        return
    payload = diff if diff.endswith("\n") else diff + "\n"
    try:
        git("apply", "--whitespace=nowarn", "--binary", "-", cwd=dest, stdin=payload.encode())
    except AgentError as exc:
        origin = _optional(lambda: git("remote", "get-url", "origin", cwd=dest))
        head = _optional(lambda: git("rev-parse", "HEAD", cwd=dest))
        raise AgentError(
            f"the task's uncommitted changes do not apply to {origin or dest} at "
            f"{head or 'its commit'}: {exc.message.removeprefix('git apply failed: ')}",
            {"repository": origin, "commit": head},
        ) from None


def is_script_text(repository: str, diff: str) -> bool:
    """Whether a task's code is its script's own text: no repository, and a recorded text
    that is not a git diff (a Python script cannot start like one)."""
    return not repository.strip() and bool(diff.strip()) and not diff.startswith("diff --git ")


def write_script(dest: Path, entry_point: str, text: str) -> Path:
    """A task recorded from no repository: its script's ``text`` (recorded where a
    repository's uncommitted changes go) written as ``entry_point`` into an empty ``dest``.

    An entry point that would land outside ``dest`` raises AgentError.
    """
    dest = Path(dest)
    target = (dest / entry_point).resolve()
    if not entry_point or not target.is_relative_to(dest.resolve()):
        raise AgentError(f"the entry point {entry_point!r} is outside the task's work dir")
    if dest.exists():
        shutil.rmtree(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _optional(read: Callable[[], str]) -> str:
    try:
        return read()
    except AgentError:
        return ""

"""The server's mirrors of linked repositories: ``<data_dir>/repos/<project-id>.git``.

A mirror is made with ``git clone --mirror`` and brought up to date with ``git fetch
--prune``: on demand when a page or the API reads it and its last fetch is older than the
freshness window, and on a schedule by the server's upkeep. Credentials come from the
``[[git]]`` settings for the remote's host and are given to git for the one call (an
``http.extraHeader`` through ``-c``, an ssh key through ``GIT_SSH_COMMAND``): the mirror's
config holds the bare URL only.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from tunelab.gitops.command import DEFAULT_TIMEOUT, RepositoryUnavailable, run_git
from tunelab.gitops.credentials import GitCredentials
from tunelab.gitops.remote import Remote

FRESH_SECONDS = 30.0
STAMP = ".fetched"


class _Auth(NamedTuple):
    config: list[str]
    env: dict[str, str]
    secrets: tuple[str, ...]


@dataclass
class GitMirrors:
    """Every project's mirror under ``root``."""

    root: Path
    credentials: GitCredentials = field(default_factory=GitCredentials)
    timeout: float = DEFAULT_TIMEOUT
    fresh_seconds: float = FRESH_SECONDS
    # One fetch of a mirror at a time in this process (others wait and find it fresh).
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def path(self, project_id: str) -> Path:
        if not project_id.isalnum():
            raise ValueError(f"not a project id: {project_id!r}")
        return self.root / f"{project_id}.git"

    def last_fetched(self, project_id: str) -> float | None:
        stamp = self.path(project_id) / STAMP
        try:
            return stamp.stat().st_mtime
        except OSError:
            return None

    def ready(self, project_id: str, remote: Remote) -> Path:
        """The mirror's path, fetched first unless fetched within the freshness window."""
        fetched = self.last_fetched(project_id)
        if fetched is None or time.time() - fetched > self.fresh_seconds:
            self.sync(project_id, remote)
        return self.path(project_id)

    def sync(self, project_id: str, remote: Remote) -> Path:
        """Clone the mirror, or fetch into it; RepositoryUnavailable when git fails."""
        with self._lock(project_id):
            target = self.path(project_id)
            if target.is_dir() and self._origin(target) == remote.url:
                auth = self._auth(remote)
                run_git(
                    ["fetch", "--prune", "--quiet", "origin"],
                    git_dir=target,
                    config=auth.config,
                    env=auth.env,
                    timeout=self.timeout,
                    secrets=auth.secrets,
                )
            else:
                self._clone(target, remote)
            (target / STAMP).touch()
            return target

    def push(self, project_id: str, remote: Remote, sha: str, branch: str) -> None:
        """Push the mirror's commit ``sha`` to ``branch`` of the remote (made when missing,
        moved only forward); RepositoryUnavailable with git's answer when refused."""
        with self._lock(project_id):
            auth = self._auth(remote)
            # The URL, not "origin": a mirror's remote pushes every ref it has.
            run_git(
                ["push", "--quiet", "--end-of-options", remote.url, f"{sha}:refs/heads/{branch}"],
                git_dir=self.path(project_id),
                config=auth.config,
                env=auth.env,
                timeout=self.timeout,
                secrets=auth.secrets,
            )

    def remove(self, project_id: str) -> None:
        with self._lock(project_id):
            shutil.rmtree(self.path(project_id), ignore_errors=True)

    def secrets(self) -> Sequence[str]:
        return self.credentials.secrets()

    def _clone(self, target: Path, remote: Remote) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # Cloned aside and moved in whole: a reader never sees half a mirror.
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.stem}-", dir=self.root))
        try:
            auth = self._auth(remote)
            run_git(
                ["clone", "--mirror", "--quiet", "--end-of-options", remote.url, str(scratch)],
                config=auth.config,
                env=auth.env,
                timeout=self.timeout,
                secrets=auth.secrets,
            )
            shutil.rmtree(target, ignore_errors=True)
            scratch.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _origin(self, target: Path) -> str | None:
        try:
            out = run_git(["config", "--get", "remote.origin.url"], git_dir=target, timeout=10)
        except RepositoryUnavailable:
            return None
        return out.decode().strip()

    def _auth(self, remote: Remote) -> _Auth:
        """git's ``-c`` settings, environment and the secrets to scrub, for ``remote``."""
        secrets = tuple(self.credentials.secrets())
        found = self.credentials.for_host(remote.host) if remote.kind != "local" else None
        config: list[str] = []
        env: dict[str, str] = {}
        if found is not None and remote.kind == "http" and found.secret:
            basic = base64.b64encode(f"{found.username}:{found.secret}".encode()).decode()
            config.append(f"http.extraHeader=Authorization: Basic {basic}")
            secrets += (basic,)
        if found is not None and remote.kind == "ssh" and found.ssh_key:
            env["GIT_SSH_COMMAND"] = (
                f"ssh -i {shlex.quote(found.ssh_key)} -o IdentitiesOnly=yes -o BatchMode=yes "
                "-o StrictHostKeyChecking=accept-new"
            )
        elif remote.kind == "ssh":
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
        return _Auth(config, env, secrets)

    def _lock(self, project_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(project_id, threading.Lock())

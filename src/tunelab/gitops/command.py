"""Running ``git``: a subprocess with an argument list (never a shell), a time limit, no
prompts, and no config from the machine's users that could run programs of its own."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tunelab.errors import RepositoryUnavailable

DEFAULT_TIMEOUT = 60.0
__all__ = ["DEFAULT_TIMEOUT", "RepositoryUnavailable", "git_env", "run_git", "scrub"]


# Options every call starts with: no credential helper, no external protocol handlers.
_SAFE = (
    "-c",
    "credential.helper=",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "protocol.fd.allow=never",
    "-c",
    "core.fsmonitor=false",
)


def git_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
        }
    )
    env.update(extra)
    return env


def run_git(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    config: Sequence[str] = (),
    env: Mapping[str, str] = {},
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    secrets: Sequence[str] = (),
) -> bytes:
    """git's stdout; RepositoryUnavailable with its stderr (``secrets`` blanked) when it
    fails or runs past ``timeout`` seconds. ``config`` are ``key=value`` settings for this
    call only (``git -c``), never written anywhere."""
    command = ["git", *_SAFE]
    for setting in config:
        command += ["-c", setting]
    if git_dir is not None:
        command += ["--git-dir", str(git_dir)]
    command += list(args)
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=git_env(env),
            cwd=git_dir if git_dir is not None and git_dir.is_dir() else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RepositoryUnavailable(f"git {args[0]} took longer than {timeout:g} s") from None
    except OSError as exc:
        raise RepositoryUnavailable(f"cannot run git: {exc.strerror}") from None
    if done.returncode != 0:
        message = scrub(done.stderr.decode(errors="replace").strip(), secrets)
        raise RepositoryUnavailable(f"git {args[0]} failed: {message[-1000:] or 'no message'}")
    return done.stdout


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text

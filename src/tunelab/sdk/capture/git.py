"""Where the running script's code came from: repository, branch, commit and uncommitted diff.

The diff holds the changes to tracked files *and* the untracked, not-ignored files as new-file
hunks, so ``git apply`` on a clone at ``commit`` recreates the working tree. Untracked files are
marked intent-to-add in a throwaway copy of the index (``GIT_INDEX_FILE``): the user's own index
is never written. Nothing here raises: a failing git leaves best-effort fields and a warning.

Each git command may take ``timeout`` seconds (``git_timeout`` in the SDK config,
``TUNELAB_GIT_TIMEOUT``; 30 by default: a diff of a large repository is slow). Reading the diff
is tried twice; when both fail, ``diff_error`` says why and the diff is unknown, not empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

MAX_DIFF_BYTES = 10 * 1024 * 1024
GIT_TIMEOUT = 30.0

# Pin what user config could change in the diff's shape, so `git apply` always takes it.
_DIFF_CONFIG = (
    "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "diff.relative=false",
    "-c", "core.fsmonitor=false",
)  # fmt: skip
_DIFF_OPTIONS = (
    "--binary", "--no-color", "--no-ext-diff", "--no-textconv", "--submodule=short",
    "--src-prefix=a/", "--dst-prefix=b/",
)  # fmt: skip


@dataclass(frozen=True)
class SourceInfo:
    """``Execution``'s source fields, plus the checkout's absolute ``root`` ('' outside git)."""

    repository: str = ""
    branch: str = ""
    commit: str = ""
    entry_point: str = ""
    working_dir: str = ""
    diff: str = ""
    # Why the diff could not be read (then ``diff`` is unknown, not "no changes").
    diff_error: str = ""
    root: str = ""
    warnings: tuple[str, ...] = ()


class _GitError(Exception):
    pass


def capture_source(
    script_path: Path,
    cwd: Path,
    *,
    max_diff_bytes: int = MAX_DIFF_BYTES,
    timeout: float = GIT_TIMEOUT,
) -> SourceInfo:
    """The source fields of a task's execution, read from the git checkout holding ``script_path``.

    >>> info = capture_source(Path(sys.argv[0]), Path.cwd())
    >>> info.repository, info.commit, info.entry_point  # doctest: +SKIP
    ('git@github.com:me/proj.git', '9fceb02...', 'train/main.py')
    """
    script = Path(cwd, script_path).resolve()
    cwd = Path(cwd).resolve()
    git = _Git(timeout)
    try:
        start = script.parent if script.parent.is_dir() else cwd
        root = Path(git.text("rev-parse", "--show-toplevel", cwd=start)).resolve()
    except _GitError as exc:
        problem = "" if "not a git repository" in str(exc) else str(exc)
        # No repository to rebuild from: the script's own text is its code. Imported here,
        # as that module builds on this one's SourceInfo.
        from tunelab.sdk.capture.script_text import script_source

        return script_source(script, (problem,) if problem else ())
    warnings: list[str] = []
    branch = _optional(lambda: git.text("symbolic-ref", "--short", "-q", "HEAD", cwd=root))
    commit = _optional(lambda: git.text("rev-parse", "--verify", "-q", "HEAD^{commit}", cwd=root))
    repository = _attempt(warnings, lambda: _remote_url(git, root, branch)) or str(root)
    working_dir = _relative(cwd, root)
    if working_dir is None:
        working_dir = _relative(script.parent, root) or "."
        warnings.append(f"working directory {cwd} is outside the repository {root}")
    entry_point = _relative(script, root) or str(script)
    diff, diff_error = _recorded_diff(git, root, commit, max_diff_bytes, warnings, entry_point)
    return SourceInfo(
        repository=repository,
        branch=branch,
        commit=commit,
        entry_point=entry_point,
        working_dir=working_dir,
        diff=diff,
        diff_error=diff_error,
        root=str(root),
        warnings=tuple(warnings),
    )


class _Git:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.env = {
            **os.environ,
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
        }

    def run(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        limit: int | None = None,
    ) -> bytes:
        """Git's stdout; with ``limit``, reads at most ``limit + 1`` bytes, then kills git."""
        try:
            proc = subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                env=env or self.env,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise _GitError(f"cannot run git: {exc}") from exc
        with proc:
            try:
                if limit is None:
                    out, err = proc.communicate(stdin, timeout=self.timeout)
                else:
                    out, err = self._read_capped(proc, limit)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise _GitError(
                    f"git {_command(args)} timed out after {self.timeout:g} s"
                ) from None
        if limit is not None and len(out) > limit:
            return out  # killed on purpose once past the limit
        if proc.returncode != 0:
            message = err.decode(errors="replace").strip()
            raise _GitError(f"git {_command(args)} failed: {message}")
        return out

    def _read_capped(self, proc: subprocess.Popen[bytes], limit: int) -> tuple[bytes, bytes]:
        # Read the output ourselves: a huge untracked file must not fill memory.
        assert proc.stdout is not None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(self.timeout, expire)
        timer.start()
        try:
            out = proc.stdout.read(limit + 1)
            if len(out) > limit:
                proc.kill()
            _, err = proc.communicate()
        finally:
            timer.cancel()
        if expired.is_set() and len(out) <= limit:
            raise subprocess.TimeoutExpired(proc.args, self.timeout)
        return out, err

    def text(self, *args: str, cwd: Path) -> str:
        return self.run(*args, cwd=cwd).decode(errors="replace").strip()


def _command(args: tuple[str, ...]) -> str:
    """The git command's name and first argument, past the ``-c key=value`` options."""
    rest = list(args)
    while len(rest) >= 2 and rest[0] == "-c":
        rest = rest[2:]
    return " ".join(rest[:2])


def _recorded_diff(
    git: _Git, root: Path, commit: str, limit: int, warnings: list[str], entry_point: str
) -> tuple[str, str]:
    """``(diff, "")``, or ``("", why)`` when it failed twice (a slow disk, a held lock, or
    an answer that cannot be true: the running script deleted while it is on disk)."""
    failure = ""
    for _ in range(2):
        try:
            diff = _diff(git, root, commit, limit, warnings)
        except (_GitError, OSError) as exc:
            failure = str(exc) or type(exc).__name__
            continue
        deleted = f"diff --git a/{entry_point} b/{entry_point}\ndeleted file mode "
        if deleted in diff and (root / entry_point).is_file():
            failure = f"git diff showed the running script {entry_point} as deleted"
            continue
        return diff, ""
    return "", failure


def _attempt(warnings: list[str], read: Callable[[], str]) -> str:
    try:
        return read()
    except _GitError as exc:
        warnings.append(str(exc))
        return ""


def _optional(read: Callable[[], str]) -> str:
    # For answers git gives by failing: a detached HEAD has no branch, a new repository no commit.
    try:
        return read()
    except _GitError:
        return ""


def _relative(path: Path, base: Path) -> str | None:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return None


def _remote_url(git: _Git, root: Path, branch: str) -> str:
    """The upstream remote of the branch, else ``origin``, else the first remote; '' if none."""
    remotes = git.text("remote", cwd=root).split()
    if not remotes:
        return ""
    upstream = ""
    if branch:
        upstream = _optional(lambda: git.text("config", f"branch.{branch}.remote", cwd=root))
    for name in (upstream, "origin", remotes[0]):
        if name in remotes:
            return without_credentials(git.text("remote", "get-url", name, cwd=root))
    return ""


def without_credentials(url: str) -> str:
    """``url`` without the user and password an HTTP(S) remote may carry
    (``https://oauth2:TOKEN@host/repo.git``): the record is shown on pages and exported,
    and an agent clones with credentials of its own. SSH remotes (``git@host:repo``) hold no
    secret and stay as they are."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


def _diff(git: _Git, root: Path, commit: str, limit: int, warnings: list[str]) -> str:
    # --git-path honours GIT_INDEX_FILE and linked worktrees; a relative answer is from root.
    index = root / git.text("rev-parse", "--git-path", "index", cwd=root)
    with tempfile.TemporaryDirectory(prefix="tunelab-index-") as scratch:
        scratch_index = Path(scratch, "index")
        if index.is_file():
            shutil.copyfile(index, scratch_index)
        env = {**git.env, "GIT_INDEX_FILE": str(scratch_index)}
        listing = git.run("ls-files", "-z", "--others", "--exclude-standard", cwd=root, env=env)
        # A nested repository is listed as "dir/"; it cannot be a new-file hunk.
        untracked = [p for p in listing.split(b"\0") if p and not p.endswith(b"/")]
        if untracked:
            git.run(
                "add", "--intent-to-add", "--pathspec-from-file=-", "--pathspec-file-nul",
                cwd=root, env=env, stdin=b"\0".join(untracked),
            )  # fmt: skip
        base = commit or git.text("hash-object", "-t", "tree", "/dev/null", cwd=root)
        raw = git.run(*_DIFF_CONFIG, "diff", *_DIFF_OPTIONS, base, cwd=root, env=env, limit=limit)
    if len(raw) > limit:
        raw = _cut_at_file_boundary(raw, limit)
        warnings.append(f"diff larger than {limit} bytes: kept the first whole files only")
    text = raw.decode("utf-8", errors="replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
        warnings.append("diff holds non-UTF-8 text: those bytes were replaced")
    return text


def _cut_at_file_boundary(raw: bytes, limit: int) -> bytes:
    cut = raw.rfind(b"\ndiff --git ", 0, limit + 1)
    return raw[: cut + 1] if cut >= 0 else b""

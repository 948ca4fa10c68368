"""What the server reads from a mirror: branches and tags, a branch's commits a page at a
time, and files at a commit. One ``git log`` with a format string per page of commits and
one ``git cat-file --batch`` per set of files, however many commits they are for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tunelab.errors import InvalidInput, NotFound
from tunelab.gitops.command import RepositoryUnavailable, run_git
from tunelab.gitops.refs import check_branch, check_commit, check_path

MAX_COMMITS = 200
MAX_FILE_BYTES = 1 << 20
# Fields of one commit, NUL-separated; commits end with RS (a message may hold anything else).
_LOG_FORMAT = "%H%x00%P%x00%an%x00%ae%x00%at%x00%B%x1e"


@dataclass(frozen=True)
class Ref:
    name: str
    kind: str  # branch | tag
    sha: str
    date: float


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    date: float
    message: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]

    def as_dict(self) -> dict[str, object]:
        return {
            "sha": self.sha,
            "short_sha": self.sha[:8],
            "parents": list(self.parents),
            "author": self.author,
            "author_email": self.author_email,
            "date": self.date,
            "title": self.title,
            "message": self.message,
        }


@dataclass(frozen=True)
class CommitPage:
    commits: list[Commit]
    next_cursor: str | None


def refs(git_dir: Path) -> list[Ref]:
    """Branches, then tags, each by name."""
    out = run_git(
        [
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(creatordate:unix)",
            "refs/heads",
            "refs/tags",
        ],
        git_dir=git_dir,
    )
    found: list[Ref] = []
    for line in out.decode(errors="replace").splitlines():
        refname, sha, peeled, date = line.split("\x00")
        kind, name = (
            ("branch", refname[11:])
            if refname.startswith("refs/heads/")
            else (
                "tag",
                refname[10:],
            )
        )
        found.append(Ref(name, kind, peeled or sha, float(date or 0)))
    return found


def resolve(git_dir: Path, name: str) -> str:
    """The commit a branch, tag or (abbreviated) sha names; NotFound when none."""
    check_commit(name)
    try:
        out = run_git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"],
            git_dir=git_dir,
            timeout=10,
        )
    except RepositoryUnavailable:
        raise NotFound(f"no branch, tag or commit {name!r} in the repository") from None
    return out.decode().strip()


def commits(git_dir: Path, branch: str, limit: int = 50, cursor: str | None = None) -> CommitPage:
    """A page of ``branch``'s commits, newest first. ``cursor`` (from the previous page)
    holds the tip the first page started at and how many were read, so pages stay put while
    the branch moves on."""
    check_branch(branch)
    if not 1 <= limit <= MAX_COMMITS:
        raise InvalidInput(f"limit is between 1 and {MAX_COMMITS}")
    tip, skip = _parse_cursor(cursor) if cursor else (resolve(git_dir, branch), 0)
    out = run_git(
        [
            "log",
            f"--format={_LOG_FORMAT}",
            f"--max-count={limit + 1}",
            f"--skip={skip}",
            "--end-of-options",
            tip,
            "--",
        ],
        git_dir=git_dir,
    )
    found = [_commit(raw) for raw in out.decode(errors="replace").split("\x1e") if raw.strip()]
    more = len(found) > limit
    return CommitPage(found[:limit], f"{tip}.{skip + limit}" if more else None)


def _parse_cursor(cursor: str) -> tuple[str, int]:
    tip, _, skip = cursor.partition(".")
    if len(tip) != 40 or not all(c in "0123456789abcdef" for c in tip) or not skip.isdigit():
        raise InvalidInput("cursor is not one this server gave")
    return tip, int(skip)


def _commit(raw: str) -> Commit:
    sha, parents, author, email, date, message = raw.lstrip("\n").split("\x00", 5)
    return Commit(sha, tuple(parents.split()), author, email, float(date), message.strip())


def read_files(
    git_dir: Path, wanted: Sequence[tuple[str, str]], max_bytes: int = MAX_FILE_BYTES
) -> dict[tuple[str, str], bytes | None]:
    """The contents of ``(commit, path)`` pairs (None: no such file, not a file, or larger
    than ``max_bytes``), in two ``cat-file`` calls for them all."""
    if not wanted:
        return {}
    names = [f"{commit}:{check_path(path)}" for commit, path in wanted]
    checked = run_git(
        ["cat-file", "--batch-check=%(objecttype) %(objectsize)"],
        git_dir=git_dir,
        stdin="".join(f"{n}\n" for n in names).encode(),
    )
    small: list[int] = []
    for i, line in enumerate(checked.decode(errors="replace").splitlines()):
        kind, _, size = line.partition(" ")
        if kind == "blob" and size.isdigit() and int(size) <= max_bytes:
            small.append(i)
    found: dict[tuple[str, str], bytes | None] = {pair: None for pair in wanted}
    if not small:
        return found
    out = run_git(
        ["cat-file", "--batch=%(objectsize)"],
        git_dir=git_dir,
        stdin="".join(f"{names[i]}\n" for i in small).encode(),
    )
    pos = 0
    for i in small:
        end = out.index(b"\n", pos)
        length = int(out[pos:end])
        found[wanted[i]] = out[end + 1 : end + 1 + length]
        pos = end + 1 + length + 1  # the content, then a newline
    return found

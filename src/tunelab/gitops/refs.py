"""Checks on what a caller names inside a repository (a branch, a commit, a file's path)
before it reaches git's command line or ``cat-file``'s input: nothing can pass as an option
(a branch named ``--upload-pack=…``) or escape the tree. Each raises InvalidInput."""

from __future__ import annotations

import re

from tunelab.errors import InvalidInput

MAX_REF = 255
MAX_PATH = 1024
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
# git check-ref-format's rules, and no leading '-'.
_BAD_REF = re.compile(r"(^[-/.])|(\.\.)|(@\{)|([\x00-\x20\x7f~^:?*\[\\])|(//)|([./]$)|(\.lock$)")


def check_branch(name: str) -> str:
    """A branch or tag name as git allows it, never one that reads as an option."""
    if not name or len(name) > MAX_REF or _BAD_REF.search(name) or name == "@":
        raise InvalidInput(f"{name[:80]!r} is not a valid branch name")
    if "/." in name or ".lock/" in name:
        raise InvalidInput(f"{name[:80]!r} is not a valid branch name")
    return name


def check_commit(name: str) -> str:
    """A commit's sha (4-64 hex digits) or a branch or tag name."""
    if _SHA.fullmatch(name):
        return name.lower()
    return check_branch(name)


def check_path(path: str) -> str:
    """A file's path inside the tree: relative, no ``..``, no control characters."""
    cleaned = path.strip("/")
    if not cleaned or len(cleaned) > MAX_PATH:
        raise InvalidInput("a file path inside the repository is required (at most 1024 chars)")
    if any(ord(c) < 32 or c == "\x7f" for c in cleaned):
        raise InvalidInput("a file path holds no control characters")
    if any(part in ("", ".", "..") for part in cleaned.split("/")):
        raise InvalidInput(f"{cleaned[:80]!r}: a path inside the repository, without '..'")
    return cleaned

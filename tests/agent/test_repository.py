"""RepositoryCache against real git repositories: the rebuilt work dir is the recorded one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gitrepo import git, new_repo, write
from tunelab.agent import AgentError
from tunelab.agent.repository import NO_REPOSITORY, RepositoryCache, apply_diff
from tunelab.sdk.capture import capture_source

FILES: dict[str, str | bytes] = {
    "train.py": "lr = 0.1\nprint(lr)\n",
    "pkg/model.py": "LAYERS = 3\n",
    "weights.bin": bytes(range(256)) * 4,
    ".gitignore": "*.log\n",
}


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file a checkout shows (not .git, not ignored): content and executable bit."""
    listed = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    files = {}
    for name in filter(None, listed.split("\0")):
        path = root / name
        if path.is_file():
            files[name] = (path.read_bytes(), os.access(path, os.X_OK))
    return files


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare 'remote' with one commit on main."""
    seed = new_repo(tmp_path / "seed", FILES)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


@pytest.fixture
def user_checkout(tmp_path: Path, origin: Path) -> Path:
    """The user's clone of origin, with uncommitted edits and new files."""
    work = tmp_path / "user"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    write(work / "train.py", "lr = 0.5  # tuned\nprint(lr)\n")
    write(work / "notes/new file.txt", "untracked, with a space in its name\n")
    write(work / "run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    write(work / "blob.dat", bytes(range(255, -1, -1)) * 3)
    write(work / "debug.log", "ignored, never recorded\n")
    (work / "pkg/model.py").unlink()
    return work


def test_checkout_and_diff_rebuild_the_working_tree_byte_for_byte(
    tmp_path: Path, user_checkout: Path
) -> None:
    source = capture_source(user_checkout / "train.py", user_checkout)
    assert source.repository.endswith("origin.git") and source.diff
    repos = RepositoryCache(tmp_path / "cache")

    work = repos.checkout(source.repository, source.commit, source.branch, tmp_path / "task")
    apply_diff(work, source.diff)

    expected = {k: v for k, v in tree(user_checkout).items() if k != "debug.log"}
    assert tree(work) == expected
    assert tree(work)["run.sh"][1] is True  # the executable bit survives
    assert git(work, "rev-parse", "HEAD") == source.commit
    assert git(work, "symbolic-ref", "--short", "HEAD") == "main"
    # A run recorded from the work dir names the real repository, not the cache.
    assert git(work, "remote", "get-url", "origin") == source.repository


def test_a_local_path_repository(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "local", FILES)
    write(repo / "train.py", "lr = 0.9\n")
    source = capture_source(repo / "train.py", repo)
    assert source.repository == str(repo)  # no remote: the path is recorded

    work = RepositoryCache(tmp_path / "cache").checkout(
        source.repository, source.commit, source.branch, tmp_path / "task"
    )
    apply_diff(work, source.diff)

    assert (work / "train.py").read_text() == "lr = 0.9\n"
    assert (work / "weights.bin").read_bytes() == FILES["weights.bin"]


def test_the_mirror_is_cloned_once_and_fetched_only_for_a_missing_commit(
    tmp_path: Path, origin: Path, user_checkout: Path
) -> None:
    repos = RepositoryCache(tmp_path / "cache")
    first = git(user_checkout, "rev-parse", "HEAD")
    repos.checkout(str(origin), first, "main", tmp_path / "task1")
    mirror = repos.mirror_path(str(origin))
    sentinel = write(mirror / "tunelab-test-sentinel", "still the same mirror")
    inode = mirror.stat().st_ino

    repos.checkout(str(origin), first, "main", tmp_path / "task2")
    assert sentinel.exists() and mirror.stat().st_ino == inode
    assert not (mirror / "FETCH_HEAD").exists()  # the commit was there: no fetch

    git(user_checkout, "commit", "-qam", "second")
    git(user_checkout, "push", "-q", "origin", "main")
    second = git(user_checkout, "rev-parse", "HEAD")
    work = repos.checkout(str(origin), second, "main", tmp_path / "task3")

    assert git(work, "rev-parse", "HEAD") == second
    assert sentinel.exists() and mirror.stat().st_ino == inode
    assert (mirror / "FETCH_HEAD").exists()  # fetched, not cloned again


def test_no_commit_means_the_branch_head_as_it_is_now(
    tmp_path: Path, origin: Path, user_checkout: Path
) -> None:
    repos = RepositoryCache(tmp_path / "cache")
    repos.checkout(str(origin), "", "main", tmp_path / "task1")  # the mirror exists now
    git(user_checkout, "commit", "-qam", "newer")
    git(user_checkout, "push", "-q", "origin", "main")
    head = git(user_checkout, "rev-parse", "HEAD")

    work = repos.checkout(str(origin), "", "main", tmp_path / "task2")
    assert git(work, "rev-parse", "HEAD") == head
    detached = repos.checkout(str(origin), "", "", tmp_path / "task3")  # the default branch
    assert git(detached, "rev-parse", "HEAD") == head


def test_a_diff_that_does_not_apply_names_the_repository_and_commit(
    tmp_path: Path, origin: Path
) -> None:
    repos = RepositoryCache(tmp_path / "cache")
    commit = git(origin, "rev-parse", "main")
    work = repos.checkout(str(origin), commit, "main", tmp_path / "task")
    bad = (
        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
        "@@ -1,2 +1,2 @@\n-not what the file holds\n+lr = 1\n print(lr)\n"
    )
    with pytest.raises(AgentError) as caught:
        apply_diff(work, bad)
    assert str(origin) in caught.value.message and commit in caught.value.message
    assert "do not apply" in caught.value.message and "train.py" in caught.value.message


def test_a_missing_commit_and_a_missing_repository_are_clear_errors(
    tmp_path: Path, origin: Path
) -> None:
    repos = RepositoryCache(tmp_path / "cache")
    with pytest.raises(AgentError, match=r"commit 0{40} is not in .*origin\.git"):
        repos.checkout(str(origin), "0" * 40, "main", tmp_path / "task")
    with pytest.raises(AgentError, match=r"cannot clone .*nowhere"):
        repos.checkout(str(tmp_path / "nowhere"), "", "main", tmp_path / "task")
    with pytest.raises(AgentError) as caught:
        repos.checkout("", "", "", tmp_path / "task")
    assert caught.value.message == NO_REPOSITORY

"""capture_source against real git repositories: the diff must rebuild the working tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gitrepo import git, isolate_git
from tunelab.sdk.capture import capture_source
from tunelab.sdk.capture.script_text import script_source


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def write(path: Path, content: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)


def new_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path


def committed_repo(path: Path) -> Path:
    repo = new_repo(path)
    write(repo / "train.py", b"lr = 0.1\nprint(lr)\n")
    write(repo / "weights.bin", bytes(range(256)) * 4)
    write(repo / "obsolete.py", b"gone = True\n")
    write(repo / ".gitignore", b"*.log\ncache/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def tree(root: Path, skip: set[str]) -> dict[str, tuple[bytes, bool]]:
    """Relative path -> (content, executable) of every file outside .git and ``skip``."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".git/") and rel not in skip:
            files[rel] = (path.read_bytes(), os.access(path, os.X_OK))
    return files


def test_diff_rebuilds_the_working_tree_on_a_clone(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    write(repo / "train.py", b"lr = 0.5\nprint(lr)\n")
    write(repo / "weights.bin", bytes(range(256))[::-1] * 4)
    (repo / "obsolete.py").unlink()
    write(repo / "models" / "new net.py", "# ünïcode\n".encode())
    write(repo / "run.sh", b"#!/bin/sh\necho run\n", mode=0o755)
    write(repo / "blob.dat", b"\x00\x01\x02binary\xff")
    write(repo / "staged.py", b"staged = 1\n")
    git(repo, "add", "staged.py")
    write(repo / "train.log", b"ignored\n")
    write(repo / "cache" / "x.txt", b"ignored too\n")
    index_before = (repo / ".git" / "index").read_bytes()
    status_before = git(repo, "status", "--porcelain")

    info = capture_source(repo / "train.py", repo)

    assert info.warnings == ()
    assert "+lr = 0.5" in info.diff
    assert "b/models/new net.py" in info.diff and "b/run.sh" in info.diff
    assert "train.log" not in info.diff and "cache/x.txt" not in info.diff
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "status", "--porcelain") == status_before

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", info.commit)
    git(clone, "apply", "--whitespace=nowarn", stdin=info.diff.encode())
    ignored = {"train.log", "cache/x.txt"}
    assert tree(clone, ignored) == tree(repo, ignored)


def test_committed_clean_tree(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")

    info = capture_source(Path("train.py"), repo)

    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.entry_point == "train.py"
    assert info.working_dir == "."
    assert info.root == str(repo.resolve())
    assert info.diff == ""


def test_detached_head_has_no_branch(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "--detach")

    info = capture_source(repo / "train.py", repo)

    assert info.branch == ""
    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert info.warnings == ()


def test_without_remote_the_repository_is_the_local_path(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")

    assert capture_source(repo / "train.py", repo).repository == str(repo.resolve())


def test_repository_prefers_upstream_then_origin_then_first_remote(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    git(repo, "remote", "add", "mirror", "https://mirror.example.com/proj.git")
    assert (
        capture_source(repo / "train.py", repo).repository == "https://mirror.example.com/proj.git"
    )

    git(repo, "remote", "add", "origin", "git@github.com:team/proj.git")
    assert capture_source(repo / "train.py", repo).repository == "git@github.com:team/proj.git"

    git(repo, "remote", "add", "upstream", "https://upstream.example.com/proj.git")
    git(repo, "config", "branch.main.remote", "upstream")
    info = capture_source(repo / "train.py", repo)
    assert info.repository == "https://upstream.example.com/proj.git"


def test_credentials_in_a_remote_url_are_never_recorded(tmp_path: Path) -> None:
    """A token cloned into the remote (``https://oauth2:TOKEN@host/…``) would show on every
    page and export of the task; the agent clones with credentials of its own."""
    repo = committed_repo(tmp_path / "repo")
    token = "glpat-Zx9s8d7f6g5h4j3k2l1"
    git(repo, "remote", "add", "origin", f"https://oauth2:{token}@gitlab.example.com/t/p.git")

    info = capture_source(repo / "train.py", repo)

    assert info.repository == "https://gitlab.example.com/t/p.git"
    git(repo, "remote", "set-url", "origin", f"http://{token}@git.example.com:8443/p.git")
    assert capture_source(repo / "train.py", repo).repository == "http://git.example.com:8443/p.git"


def test_repository_without_commits(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    write(repo / "train.py", b"print('first')\n")
    git(repo, "add", "train.py")
    write(repo / "helper.py", b"x = 1\n")

    info = capture_source(repo / "train.py", repo)

    assert (info.commit, info.branch, info.entry_point) == ("", "main", "train.py")
    fresh = new_repo(tmp_path / "fresh")
    git(fresh, "apply", stdin=info.diff.encode())
    assert tree(fresh, set()) == tree(repo, set())
    assert git(repo, "diff", "--cached", "--name-only") == "train.py"


def test_script_in_a_subdirectory_run_from_another(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    write(repo / "src" / "app" / "train.py", b"pass\n")
    (repo / "scripts").mkdir()

    info = capture_source(Path("../src/app/train.py"), repo / "scripts")

    assert info.entry_point == "src/app/train.py"
    assert info.working_dir == "scripts"


def test_working_directory_outside_the_repository(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    write(repo / "src" / "train.py", b"pass\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    info = capture_source(repo / "src" / "train.py", elsewhere)

    assert (info.entry_point, info.working_dir) == ("src/train.py", "src")
    assert any("outside the repository" in w for w in info.warnings)


def test_not_a_repository_records_the_scripts_own_text(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / "jobs" / "train.py", b"import sys\nprint(sys.argv)\n")

    info = capture_source(Path("jobs/train.py"), project)

    assert info.repository == info.branch == info.commit == info.root == ""
    # As an agent rebuilds it: the text, written as the entry point into an empty directory.
    assert info.diff == "import sys\nprint(sys.argv)\n"
    assert info.entry_point == "train.py"
    assert info.working_dir == "."
    assert info.warnings == ()
    outside = capture_source(project / "jobs" / "train.py", project / "jobs" / "..")
    assert outside.entry_point == "train.py" and outside.diff == info.diff


def test_a_script_too_large_to_record_says_so(tmp_path: Path) -> None:
    write(tmp_path / "big.py", b"x = 1\n" * 100)

    info = script_source(tmp_path / "big.py", max_bytes=100)

    assert info.diff == "" and info.entry_point == "big.py"
    assert any("larger than 100 bytes" in w for w in info.warnings)


def test_large_diff_keeps_whole_files_that_still_apply(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    write(repo / "a_small.txt", b"small\n")
    write(repo / "b_large.txt", b"line\n" * 5000)

    info = capture_source(repo / "train.py", repo, max_diff_bytes=4000)

    assert "a_small.txt" in info.diff and "b_large.txt" not in info.diff
    assert len(info.diff.encode()) <= 4000
    assert any("diff larger than 4000 bytes" in w for w in info.warnings)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "apply", stdin=info.diff.encode())
    assert (clone / "a_small.txt").read_bytes() == b"small\n"


def test_missing_git_gives_a_warning_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = committed_repo(tmp_path / "repo")
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))

    info = capture_source(repo / "train.py", repo)

    assert info.repository == "" and info.entry_point == "train.py"
    assert any("cannot run git" in w for w in info.warnings)


def test_linked_worktree(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    write(worktree / "extra.py", b"extra = 1\n")
    index = Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    index_before = index.read_bytes()

    info = capture_source(worktree / "train.py", worktree)

    assert (info.branch, info.entry_point) == ("feature", "train.py")
    assert "b/extra.py" in info.diff
    assert index.read_bytes() == index_before

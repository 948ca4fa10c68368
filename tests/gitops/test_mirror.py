"""Mirrors of linked repositories against a real git server over HTTP (git http-backend with
basic credentials) and a local path: clone, fetch, branches, commits, files, metrics, and
names that must never reach git as options."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.event_loop import run_coroutine
from tests.git_server import GitServer
from tests.gitrepo import git, isolate_git, new_repo, write
from tunelab.errors import InvalidInput, NotFound, RepositoryUnavailable
from tunelab.gitops import history
from tunelab.gitops.commit_metrics import commit_metrics
from tunelab.gitops.credentials import GitCredential, GitCredentials, load_git_credentials
from tunelab.gitops.mirror import GitMirrors
from tunelab.gitops.remote import parse_remote
from tunelab.server import maintenance
from tunelab.server.git_repositories import sync_all
from tunelab.store import migrations, repositories
from tunelab.store.engine import create_engine, sqlite_url
from tunelab.store.tasks import create_task

USER, TOKEN = "bot", "tok-3f9a77c1e5"


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("git-served"), user=USER, password=TOKEN) as served:
        yield served


@pytest.fixture
def pushed(
    git_server: GitServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """A served repository (a unique name) with three commits on main and a branch."""
    isolate_git(monkeypatch, tmp_path)
    name = tmp_path.name.replace("_", "-")
    git_server.create(name)
    work = new_repo(tmp_path / "work", {"train.py": "print('hi')\n"})
    write(work / "metrics.json", json.dumps({"acc": 0.5, "train": {"loss": 1.25}}))
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "second\n\nlonger body")
    write(
        work / "dvc.yaml",
        "stages:\n  train:\n    cmd: python train.py\n    metrics:\n"
        "      - eval/scores.yaml:\n          cache: false\n",
    )
    write(work / "eval/scores.yaml", "f1: 0.75\nnested:\n  auc: 0.9\nname: text\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "third [skip tunelab]")
    git(work, "branch", "feature")
    git(work, "push", "-q", git_server.authed_url(name), "main", "feature")
    return name, work


def _mirrors(root: Path, password: str = TOKEN) -> GitMirrors:
    entry = GitCredential(host=None, username=USER, token=password)
    return GitMirrors(root, GitCredentials((entry,)), timeout=30)


def test_clone_fetch_and_read_over_http(
    pushed: tuple[str, Path], git_server: GitServer, tmp_path: Path
) -> None:
    name, work = pushed
    mirrors = _mirrors(tmp_path / "repos")
    remote = parse_remote(git_server.url_for(name))
    git_dir = mirrors.sync("p1", remote)
    assert git_dir == tmp_path / "repos" / "p1.git"
    # The credential was given for the call only: the mirror's config has the bare URL.
    config = (git_dir / "config").read_text()
    assert TOKEN not in config and "extraheader" not in config.lower()
    assert git_server.url_for(name) in config

    names = {(r.kind, r.name) for r in history.refs(git_dir)}
    assert {("branch", "main"), ("branch", "feature")} <= names
    page = history.commits(git_dir, "main", limit=2)
    assert [c.title for c in page.commits] == ["third [skip tunelab]", "second"]
    assert page.commits[1].message == "second\n\nlonger body"
    assert page.commits[0].author == "Tester" and page.commits[0].parents == (page.commits[1].sha,)
    assert page.next_cursor is not None
    rest = history.commits(git_dir, "main", limit=2, cursor=page.next_cursor)
    assert [c.title for c in rest.commits] == ["first"] and rest.next_cursor is None

    shas = [c.sha for c in page.commits + rest.commits]
    metrics = commit_metrics(git_dir, shas)
    assert metrics[shas[0]] == {"acc": 0.5, "train.loss": 1.25, "f1": 0.75, "nested.auc": 0.9}
    assert metrics[shas[1]] == {"acc": 0.5, "train.loss": 1.25}
    assert metrics[shas[2]] == {}

    # A new commit upstream arrives with the next fetch.
    write(work / "train.py", "print('changed')\n")
    git(work, "commit", "-q", "-am", "fourth")
    git(work, "push", "-q", git_server.authed_url(name), "main")
    mirrors.sync("p1", remote)
    assert history.commits(git_dir, "main", limit=1).commits[0].title == "fourth"
    files = history.read_files(git_dir, [(history.resolve(git_dir, "main"), "train.py")])
    assert list(files.values()) == [b"print('changed')\n"]


def test_wrong_credential_is_refused_and_never_shown(
    pushed: tuple[str, Path], git_server: GitServer, tmp_path: Path
) -> None:
    name, _ = pushed
    mirrors = _mirrors(tmp_path / "repos", password="wrong-pass-81d2")
    with pytest.raises(RepositoryUnavailable) as refused:
        mirrors.sync("p1", parse_remote(git_server.url_for(name)))
    assert "wrong-pass-81d2" not in refused.value.message
    assert (git_server.requests[-1][2]) == 401
    assert not (tmp_path / "repos" / "p1.git").exists()


def test_local_path_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path)
    work = new_repo(tmp_path / "local", {"params.yaml": "lr: 0.1\n"})
    mirrors = GitMirrors(tmp_path / "repos")
    git_dir = mirrors.ready("p2", parse_remote(str(work)))
    assert history.commits(git_dir, "main").commits[0].title == "first"
    # Fresh: a second read within the window does not fetch again.
    fetched = mirrors.last_fetched("p2")
    mirrors.ready("p2", parse_remote(str(work)))
    assert mirrors.last_fetched("p2") == fetched


@pytest.mark.parametrize(
    "branch",
    ["--upload-pack=touch /tmp/pwned", "-c", "a..b", "x:y", "refs/../heads", "@{-1}", "", "a b"],
)
def test_hostile_branch_names_are_refused(tmp_path: Path, branch: str) -> None:
    with pytest.raises(InvalidInput):
        history.commits(tmp_path, branch)


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../b", "a\nb", "/", "./x"])
def test_hostile_paths_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(InvalidInput):
        history.read_files(tmp_path, [("a" * 40, path)])


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch /tmp/x",
        "ext::sh -c touch% /tmp/x",
        "fd::3",
        "https://user:pass@example.com/r.git",
        "ftp://example.com/r.git",
        "https:///r.git",
        "file://relative/r.git",
        "git@-oProxyCommand=x:r.git",
        "ssh://-oProxyCommand=x/r.git",
    ],
)
def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        parse_remote(url)


def test_remote_kinds() -> None:
    assert parse_remote("https://Git.Example.com:8443/a/b.git").host == "git.example.com:8443"
    assert parse_remote("git@github.com:org/repo.git").kind == "ssh"
    assert parse_remote("ssh://git@host:2222/r.git").host == "host:2222"
    assert parse_remote("file:///srv/r.git").url == "/srv/r.git"


def test_unknown_commit_is_not_found(
    pushed: tuple[str, Path], git_server: GitServer, tmp_path: Path
) -> None:
    name, _ = pushed
    git_dir = _mirrors(tmp_path / "repos").sync("p3", parse_remote(git_server.url_for(name)))
    with pytest.raises(NotFound):
        history.resolve(git_dir, "0" * 40)
    with pytest.raises(NotFound):
        history.resolve(git_dir, "no-such-branch")


def test_git_credentials_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[git]]\nhost = "Git.Example.com"\nusername = "ci"\ntoken = "t0k"\n\n'
        '[[git]]\nssh_key = "~/.ssh/id"\n'
    )
    found = load_git_credentials({}, config)
    assert found.for_host("git.example.com") == GitCredential("git.example.com", "ci", "t0k")
    default = found.for_host("other.org")
    assert default is not None and default.ssh_key and default.ssh_key.endswith("/.ssh/id")
    assert "t0k" not in repr(found)
    config.write_text('[[git]]\nhost = "h"\ntoken = 5\n')
    with pytest.raises(Exception, match=r"git\[0\]\.token") as bad:
        load_git_credentials({}, config)
    assert "5" not in str(bad.value).split(":")[-1]


def test_git_server_refuses_without_credentials(
    pushed: tuple[str, Path], git_server: GitServer, tmp_path: Path
) -> None:
    name, _ = pushed
    done = subprocess.run(
        ["git", "ls-remote", git_server.url_for(name)],
        capture_output=True,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode != 0


def test_fifty_commits_and_their_metrics_read_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ``git log`` and two ``cat-file`` calls, however many commits: well under a second
    for a page of 50 (a generous bound on a loaded machine)."""
    isolate_git(monkeypatch, tmp_path)
    work = new_repo(tmp_path / "many", {"dvc.yaml": "metrics:\n  - eval/m.yaml\n"})
    # 60 commits at once through fast-import (one process instead of 120).
    stream = []
    for i in range(60):
        metrics = json.dumps({"step": i, "acc": i / 100})
        nested = f"score: {i}\n"
        stream.append(
            f"commit refs/heads/main\ncommitter T <t@e> {1_700_000_000 + i} +0000\n"
            f"data {len(f'c{i}')}\nc{i}\n"
            + ("from refs/heads/main^0\n" if i == 0 else "")
            + f"M 644 inline metrics.json\ndata {len(metrics)}\n{metrics}\n"
            f"M 644 inline eval/m.yaml\ndata {len(nested)}\n{nested}\n"
        )
    git(work, "fast-import", "--quiet", stdin="".join(stream).encode())
    git_dir = GitMirrors(tmp_path / "repos").sync("fast", parse_remote(str(work)))
    started = time.perf_counter()
    page = history.commits(git_dir, "main", limit=50)
    metrics = commit_metrics(git_dir, [c.sha for c in page.commits])
    took = time.perf_counter() - started
    assert len(page.commits) == 50 and page.commits[0].title == "c59"
    assert metrics[page.commits[0].sha] == {"step": 59.0, "acc": 0.59, "score": 59.0}
    assert took < 3.0, took


def test_sync_all_fetches_every_link_and_goes_on_past_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    good = new_repo(tmp_path / "good", {"a.txt": "a\n"})
    engine = create_engine(sqlite_url(tmp_path))
    migrations.upgrade(engine)
    with engine.begin() as conn:
        ok = create_task(conn, name="t", project="synced")["project"]["id"]
        broken = create_task(conn, name="t", project="broken")["project"]["id"]
        repositories.set_repository(conn, ok, str(good), "main")
        repositories.set_repository(conn, broken, str(tmp_path / "missing"), "main")
    mirrors = GitMirrors(tmp_path / "repos")
    assert sync_all(engine, mirrors) == 1
    assert mirrors.last_fetched(ok) is not None and mirrors.last_fetched(broken) is None
    engine.dispose()


def test_the_upkeep_loop_fetches_the_mirrors_beside_its_other_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's upkeep fetches at once on start (then every ``sync_every``), while
    reaping goes on."""
    isolate_git(monkeypatch, tmp_path)
    good = new_repo(tmp_path / "good", {"a.txt": "a\n"})
    engine = create_engine(sqlite_url(tmp_path))
    migrations.upgrade(engine)
    with engine.begin() as conn:
        project = create_task(conn, name="t", project="upkeep")["project"]["id"]
        repositories.set_repository(conn, project, str(good), "main")
    mirrors = GitMirrors(tmp_path / "repos")

    async def run_until_fetched() -> float | None:
        sync = functools.partial(sync_all, engine, mirrors)
        upkeep = asyncio.create_task(
            maintenance.run(engine, 60.0, sync_repositories=sync, sync_every=300.0)
        )
        deadline = time.monotonic() + 10
        while mirrors.last_fetched(project) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        upkeep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upkeep
        return mirrors.last_fetched(project)

    assert run_coroutine(run_until_fetched()) is not None
    engine.dispose()

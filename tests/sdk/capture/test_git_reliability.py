"""A git that is slow or fails once, between the SDK and a real repository (a wrapper named
``git`` first on PATH): a failure is tried again; two failures leave the diff unknown with
the reason, never an empty diff. End to end: the run's task carries ``diff_error`` and a
capture warning, its Execution tab says why, and an agent refuses to run it."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gitrepo import isolate_git, new_repo, write
from tests.scripts import run_script, script_env, unique
from tunelab.agent.environment import EnvironmentBuilder
from tunelab.agent.launcher import Launcher
from tunelab.agent.repository import RepositoryCache
from tunelab.agent.runner import TaskRunner
from tunelab.sdk.capture import capture_source
from tunelab.sdk.transport import ApiClient

# Stands in for git: counts `git diff` calls in $FAKE_GIT_COUNT; with FAKE_GIT_MODE=slow a
# diff hangs, with "flaky" the first one fails; everything else is the real git.
FAKE_GIT = """#!{python}
import os, sys, time
from pathlib import Path

args = sys.argv[1:]
rest = args
while len(rest) >= 2 and rest[0] == "-c":
    rest = rest[2:]
if rest[:1] == ["diff"]:
    counter = Path(os.environ["FAKE_GIT_COUNT"])
    calls = int(counter.read_text() if counter.exists() else "0") + 1
    counter.write_text(str(calls))
    mode = os.environ.get("FAKE_GIT_MODE", "")
    if mode == "slow":
        time.sleep(60)
    if mode == "flaky" and calls == 1:
        sys.stderr.write("fatal: Unable to create '.git/index.lock': File exists.\\n")
        sys.exit(128)
os.execv({git!r}, ["git", *args])
"""

TRAIN = """
from tunelab import Task
task = Task.init(project_name="{project}", task_name="slow-git")
print("TASK", task.id)
"""


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.fixture
def fake_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The wrapper first on PATH; answers the file counting its diff calls."""
    real = shutil.which("git")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = write(bin_dir / "git", FAKE_GIT.format(python=sys.executable, git=real), 0o755)
    assert wrapper.is_file()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    count = tmp_path / "diff-calls"
    monkeypatch.setenv("FAKE_GIT_COUNT", str(count))
    return count


def _changed_repo(path: Path) -> Path:
    repo = new_repo(path, {"train.py": "print('committed')\n"})
    write(repo / "train.py", "print('changed')\n")
    return repo


def test_a_diff_that_fails_once_is_read_on_the_second_try(
    fake_git: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_GIT_MODE", "flaky")
    repo = _changed_repo(tmp_path / "project")
    source = capture_source(repo / "train.py", repo, timeout=10)
    assert fake_git.read_text() == "2"
    assert "+print('changed')" in source.diff
    assert source.diff_error == ""


def test_a_diff_that_times_out_twice_is_unknown_with_the_reason(
    fake_git: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_GIT_MODE", "slow")
    repo = _changed_repo(tmp_path / "project")
    started = time.monotonic()
    source = capture_source(repo / "train.py", repo, timeout=1)
    assert time.monotonic() - started < 15
    assert fake_git.read_text() == "2"
    assert (source.diff, source.diff_error) == ("", "git diff --binary timed out after 1 s")
    assert source.commit  # the rest is recorded as usual


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_a_run_whose_diff_timed_out_says_so_and_an_agent_refuses_it(
    fake_git: Path, api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("slow-git")
    repo = new_repo(tmp_path / "project", {"train.py": TRAIN.format(project=project)})
    write(repo / "notes.txt", "uncommitted\n")
    env = script_env(
        api_url, tmp_path / "home", FAKE_GIT_MODE="slow", TUNELAB_GIT_TIMEOUT="1",
        PATH=os.environ["PATH"], FAKE_GIT_COUNT=str(fake_git),
    )  # fmt: skip
    result = run_script(repo / "train.py", env)
    assert result.returncode == 0, result.stderr
    reason = "git diff --binary timed out after 1 s"
    assert f"tunelab: could not capture the uncommitted changes: {reason}" in result.stderr
    task_id = next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    task = client.get_task(task_id)
    assert (task["execution"]["diff"], task["execution"]["diff_error"]) == ("", reason)
    assert task["execution"]["commit"]
    assert {"what": "the uncommitted changes", "reason": reason} in [
        {k: w[k] for k in ("what", "reason")} for w in task["capture_warnings"]
    ]

    page = httpx.get(f"{api_url}/experiments/{task_id}/execution", timeout=30)
    assert f"The uncommitted changes could not be recorded: {reason}" in page.text

    clone = client.clone_task(task_id)  # what a re-run starts from keeps the unknown diff
    assert clone["execution"]["diff_error"] == reason
    client.update_task(clone["id"], status="running")
    agent = TaskRunner(
        client, RepositoryCache(tmp_path / "repos"), EnvironmentBuilder(tmp_path / "envs"),
        Launcher, tmp_path / "tasks",
    )  # fmt: skip
    assert agent.run(client.get_task(clone["id"])) == "failed"
    refused = client.get_task(clone["id"])["status_reason"]
    assert refused.startswith("checkout failed: the task's uncommitted changes could not be")
    assert reason in refused and "edit its diff" in refused

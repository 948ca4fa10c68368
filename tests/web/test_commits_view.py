"""Experiments from git, in a real Chromium: a project's Repository form links a repository
served over HTTP (git http-backend, basic credentials from the server's config file), and
the experiments table grouped by commit shows the branch's commits with the experiments
that real ``Task.init`` scripts recorded at each, the commits' committed metrics, hidden
``[skip tunelab]`` commits, and a running experiment's status changing live."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.git_server import GitServer
from tests.gitrepo import git, new_repo, write
from tests.scripts import run_script, script_env
from tests.services import ServerProcess
from tests.web.conftest import screenshot

USER, TOKEN = "web-bot", "tok-web-90c2f1aa"
SCREENS = Path("/tmp/screens")
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    **{
        f"GIT_{r}_{k}": v
        for r in ("AUTHOR", "COMMITTER")
        for k, v in (("NAME", "Ada Tester"), ("EMAIL", "ada@example.com"))
    },
}
SCRIPT = """
import sys
from tunelab import Task

task = Task.init(project_name="git-web", task_name=sys.argv[1])
params = {"lr": float(sys.argv[2])}
task.connect(params)
task.get_logger().report_scalar("loss", "train", params["lr"] * 2, iteration=1)
task.close()
"""


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    saved = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    try:
        with GitServer(tmp_path_factory.mktemp("git-web"), user=USER, password=TOKEN) as served:
            served.create("web")
            yield served
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, git_server: GitServer
) -> Iterator[ServerProcess]:
    """This module's own server: its config file holds the git server's credentials."""
    data = tmp_path_factory.mktemp("git-web-server")
    config = data / "config.toml"
    config.write_text(
        f'[[git]]\nhost = "127.0.0.1:{git_server.port}"\nusername = "{USER}"\ntoken = "{TOKEN}"\n'
    )
    proc = ServerProcess(data / "data", env={"TUNELAB_CONFIG_FILE": str(config)})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def history(
    git_server: GitServer, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Three commits pushed to the git server, and a Task.init run in a clone at each of the
    first two: {"first", "second", "skipped"} shas, and the two runs' task names."""
    root = tmp_path_factory.mktemp("git-web-work")
    work = new_repo(root / "work", {"train.py": SCRIPT})
    write(work / "metrics.json", json.dumps({"acc": 0.61, "eval": {"f1": 0.52}}))
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "Baseline model\n\nwith a body line")
    write(work / "metrics.json", json.dumps({"acc": 0.74, "eval": {"f1": 0.66}}))
    git(work, "commit", "-q", "-am", "Wider layers")
    git(work, "commit", "-q", "--allow-empty", "-m", "Save results [skip tunelab]")
    git(work, "push", "-q", git_server.authed_url("web"), "main")
    first, second, skipped = reversed(git(work, "log", "--format=%H").split()[:3])
    # The runs happen in a clone of the served repository, as a user's would.
    basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    clone = root / "clone"
    git(
        root,
        "-c",
        f"http.extraHeader=Authorization: Basic {basic}",
        "clone",
        "-q",
        git_server.url_for("web"),
        str(clone),
    )
    env = script_env(server.url, root / "home", **GIT_ENV)
    for sha, name, lr in ((first, "run-at-first", "0.1"), (second, "run-at-second", "0.3")):
        git(clone, "checkout", "-q", sha)
        done = run_script(clone / "train.py", env, name, lr)
        assert done.returncode == 0, done.stderr
    return {"first": first, "second": second, "skipped": skipped}


def _project(http: httpx.Client) -> str:
    answer = http.post("/api/v1/projects", json={"name": "git-web"})
    return str(answer.json()["id"])


def test_link_the_repository_and_see_experiments_by_commit(
    page: Page, http: httpx.Client, git_server: GitServer, history: dict[str, str]
) -> None:
    project = _project(http)
    page.goto(f"/projects/{project}/repository")
    expect(page.locator(".repo-none")).to_be_visible()
    page.fill("#repo-url", git_server.url_for("web"))
    page.fill("#repo-metrics", "")
    page.click(".repo-form button[type=submit]")
    expect(page.locator(".repo-url")).to_have_text(git_server.url_for("web"))
    expect(page.locator(".repo-branch")).to_have_text("main")
    assert TOKEN not in page.content()
    _screens(page, "git-repository-form")

    page.goto(f"/projects/{project}")
    page.click("text=By commit")
    expect(page).to_have_url(re.compile(r"\?group=commit"))
    commits = page.locator("tr.commit-row")
    # The mirror is fetched on first view; the rows appear when it is.
    expect(commits).to_have_count(3)
    titles = ["Wider layers", "Baseline model", "first"]
    expect(commits.locator(".commit-title")).to_have_text(titles)
    expect(commits.first.locator(".commit-author")).to_have_text("Ada Tester")
    expect(commits.first.locator(".commit-sha")).to_have_text(history["second"][:8])
    metrics = page.locator(f"tr.commit-row[data-sha='{history['second']}'] .commit-metric")
    expect(metrics).to_have_text([re.compile(r"acc\s+0\.74"), re.compile(r"eval\.f1\s+0\.66")])
    for key, name in (("first", "run-at-first"), ("second", "run-at-second")):
        nested = page.locator(f"tr.commit-task[data-commit='{history[key]}']")
        expect(nested).to_have_count(1)
        expect(nested.locator(".col-name")).to_have_text(name)
        expect(nested.locator(".badge, .status")).to_have_count(1)
    # The task's parameter and metric columns, offered from the project's tasks.
    expect(page.locator("th.extra-col")).to_have_count(2)
    assert page.locator(f"tr.commit-row[data-sha='{history['skipped']}']").count() == 0
    expect(page.locator(".pager")).to_contain_text("1 [skip tunelab] commit hidden")
    assert TOKEN not in page.content()
    _screens(page, "git-commits-view")

    page.click(".skip-toggle")
    expect(page).to_have_url(re.compile(r"skipped=1"))
    expect(commits).to_have_count(4)
    expect(commits.first.locator(".commit-title")).to_have_text("Save results [skip tunelab]")
    page.click(".skip-toggle")
    expect(commits).to_have_count(3)


def test_a_running_experiment_updates_live(
    page: Page, http: httpx.Client, git_server: GitServer, history: dict[str, str]
) -> None:
    project = _project(http)
    http.put(
        f"/api/v1/projects/{project}/repository", json={"url": git_server.url_for("web")}
    ).raise_for_status()
    made = http.post(
        "/api/v1/tasks",
        json={
            "name": "live-run",
            "project": "git-web",
            "status": "running",
            "execution": {"commit": history["first"]},
        },
    )
    assert made.status_code == 201, made.text
    task = made.json()["id"]
    page.goto(f"/projects/{project}?group=commit")
    row = page.locator(f"tr.commit-task[data-task-id='{task}']")
    expect(row).to_have_attribute("data-status", "running")
    http.patch(f"/api/v1/tasks/{task}", json={"status": "completed"}).raise_for_status()
    expect(row).to_have_attribute("data-status", "completed", timeout=10_000)


def _screens(page: Page, name: str) -> None:
    saved = screenshot(page, name)
    SCREENS.mkdir(parents=True, exist_ok=True)
    shutil.copy(saved, SCREENS / f"{name}.png")

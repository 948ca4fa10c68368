"""The seed's whole flow of running a commit, in a real Chromium: the commits view of a
project linked to a repository served over HTTP with credentials → select a commit → Run →
change a parameter and replace a data file → a new branch → a real agent daemon runs it
(its metric shows in the row under the commit while it runs) → completed → the server pushes
the results commit to the new branch, the forge receives the pull request, and the commits
view of that branch shows the new commit.

The forge is tests/fake_forge.py: GitHub's REST API cannot be reached from where the tests run."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.agents import agent_daemon
from tests.fake_forge import FakeForge
from tests.git_server import GitServer
from tests.gitrepo import git, isolate_git, new_repo
from tests.services import ServerProcess
from tests.waiting import wait_for
from tests.web.conftest import screenshot
from tunelab.agent.environment import EnvironmentBuilder

USER, TOKEN = "flow-bot", "tok-flow-7f3a90c1"
QUEUE = "git-web-runs"
REPO = "team/flow"
PARAMS = "# settings\ntrain:\n  lr: 0.1  # learning rate\n  epochs: 3\n"
# The script reports its metric through the SDK, then waits for the test to have seen it in
# the page while the run is still running ({go} is a file the test creates).
TRAIN = """\
import json
import pathlib
import time

import yaml
from tunelab import Task

task = Task.init()
params = yaml.safe_load(open("params.yaml"))
rows = sum(1 for line in open("data.csv") if line.strip())
acc = round(1 - params["train"]["lr"] + rows / 100, 4)
task.get_logger().report_scalar("acc", "acc", acc, 0)
task.flush(wait_for_uploads=True)
go = pathlib.Path({go!r})
deadline = time.time() + 120
while not go.exists() and time.time() < deadline:
    time.sleep(0.2)
with open("metrics.json", "w") as out:
    json.dump({{"acc": acc}}, out)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("git-run-flow")
    go = root / "go"
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, root)
        with (
            GitServer(root / "git", user=USER, password=TOKEN) as served,
            FakeForge(kind="github", token="forge-t0ken", url=served.url) as forge,
        ):
            served.create(REPO)
            files = {
                "params.yaml": PARAMS,
                "train.py": TRAIN.format(go=str(go)),
                "data.csv": "1\n2\n",
                "metrics.json": '{"acc": 0.9}\n',
            }
            work = new_repo(root / "work", files)
            git(work, "push", "-q", served.authed_url(REPO), "main")
            sha = git(work, "rev-parse", "HEAD").strip()
            config = root / "config.toml"
            config.write_text(
                f'[[git]]\nhost = "127.0.0.1:{served.port}"\nusername = "{USER}"\n'
                f'token = "{TOKEN}"\n\n'
                f'[[forge]]\nurl = "{served.url}"\nkind = "github"\n'
                f'api_url = "{forge.api_url}"\ntoken = "{forge.token}"\n'
            )
            server = ServerProcess(root / "data", env={"TUNELAB_CONFIG_FILE": str(config)})
            server.start()
            try:
                with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
                    project = api.post("/projects", json={"name": "git-run-flow"}).json()
                    link = {"url": served.url_for(REPO), "default_branch": "main"}
                    assert api.put(f"/projects/{project['id']}/repository", json=link).is_success
                # The agent reads the repository with a credential of its own; it never pushes.
                basic = base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
                agent_env = {
                    "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR")
                    or str(Path.home() / ".cache" / "uv"),
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
                }
                EnvironmentBuilder(root / "agent-work" / "envs").build("", lambda line: None)
                options = ("--poll-timeout", "2")
                with agent_daemon(server.url, root, QUEUE, options=options, env=agent_env):
                    yield {
                        "server": server,
                        "project": project["id"],
                        "sha": sha,
                        "served": served,
                        "forge": forge,
                        "go": go,
                    }
            finally:
                go.touch()
                server.stop()


@pytest.fixture(scope="module")
def server(flow: dict[str, object]) -> ServerProcess:
    """The page fixture's server: this module's own."""
    found = flow["server"]
    assert isinstance(found, ServerProcess)
    return found


def test_a_commit_run_from_the_form_runs_live_and_its_results_open_a_pull_request(
    page: Page, flow: dict[str, object], tmp_path: Path
) -> None:
    sha, served, forge, go = flow["sha"], flow["served"], flow["forge"], flow["go"]
    assert isinstance(served, GitServer) and isinstance(forge, FakeForge)
    assert isinstance(sha, str) and isinstance(go, Path)
    bare = served.root / f"{REPO}.git"
    page.goto(f"/projects/{flow['project']}?group=commit")
    page.locator(f'tr.commit-row[data-sha="{sha}"]').get_by_role("link", name="Run").click()
    page.locator('tr.param-row[data-key="train.lr"] input').fill("0.25")
    # data.csv is not a pipeline dependency: it is listed with every file of the repository.
    page.get_by_label("Show all input parameters (including hidden)").check()
    data_row = page.locator('tr.data-file[data-path="data.csv"]')
    upload = tmp_path / "data.csv"
    upload.write_text("1\n2\n3\n4\n5\n")
    data_row.locator("input[type=file]").set_input_files(str(upload))
    expect(data_row.locator(".data-upload-state")).to_contain_text("Uploaded data.csv")
    page.locator("textarea[name=script]").fill("python train.py")
    page.get_by_label("Commit message").fill("Try lr 0.25")
    page.get_by_label("New branch name").fill("exp/lr-0.25")
    expect(page.locator("#git-run-target-new")).to_be_checked()
    page.locator("#git-run-where").select_option(f"queue:{QUEUE}")
    screenshot(page, "git-run-flow-form")
    page.get_by_role("button", name="Run experiment").click()

    page.wait_for_url("**group=commit**")
    row = page.locator(f'tr.commit-task[data-commit="{sha}"]')
    expect(row).to_have_count(1)
    # Live: the metric the script reported shows in its row while it still runs.
    expect(row).to_have_attribute("data-status", "running", timeout=120_000)
    # acc = 1 - 0.25 + 5 rows / 100: the new parameter and the new data file were both used.
    expect(row.locator("td.num", has_text="0.8")).to_have_count(1, timeout=60_000)
    screenshot(page, "git-run-flow-running")
    go.touch()
    expect(row).to_have_attribute("data-status", "completed", timeout=60_000)
    task_id = row.get_attribute("data-task-id")

    def pushed() -> str | None:
        found = git(bare, "for-each-ref", "--format=%(objectname)", "refs/heads/exp/lr-0.25")
        return found.strip() or None

    tip = wait_for(pushed, 30, "the results commit on the new branch")
    assert git(bare, "rev-parse", "refs/heads/main").strip() == sha  # the base is untouched
    assert git(bare, "rev-parse", f"{tip}^").strip() == sha
    shown = git(bare, "show", f"{tip}:params.yaml")
    assert "  lr: 0.25 # learning rate\n" in shown and shown.startswith("# settings")
    assert git(bare, "show", f"{tip}:data.csv").split() == ["1", "2", "3", "4", "5"]
    assert '"acc": 0.8' in git(bare, "show", f"{tip}:metrics.json")
    (pull,) = [r for r in forge.requests if r.method == "POST" and r.path.endswith("/pulls")]
    assert pull.json["head"] == "exp/lr-0.25" and pull.json["base"] == "main"
    assert "0.25" in pull.json["body"] and f"/experiments/{task_id}" in pull.json["body"]

    page.goto(f"/experiments/{task_id}/info")
    results = page.locator(".git-run-results")
    expect(results).to_contain_text(f"pushed as {tip[:8]}")
    expect(results.get_by_role("link")).to_have_attribute(
        "href", forge.pulls[(REPO, "exp/lr-0.25", "main")]
    )
    page.goto(f"/projects/{flow['project']}?group=commit&branch=exp/lr-0.25")
    expect(page.locator(f'tr.commit-row[data-sha="{tip}"]')).to_contain_text("Try lr 0.25")
    screenshot(page, "git-run-flow-pushed")

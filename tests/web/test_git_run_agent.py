"""The whole flow of running a commit, in a real Chromium: the Run form on a commit of a
repository served over HTTP with credentials, a real agent daemon taking the queued task,
writing the edited parameter into params.yaml and running the script typed in the form, and
the server pushing the results commit to the base branch, where the commits view shows it."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.agents import agent_daemon
from tests.git_server import GitServer
from tests.gitrepo import git, isolate_git, new_repo
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.agent.environment import EnvironmentBuilder

USER, TOKEN = "flow-bot", "tok-flow-7f3a90c1"
QUEUE = "git-web-runs"
PARAMS = "# settings\ntrain:\n  lr: 0.1  # learning rate\n  epochs: 3\n"
TRAIN = """\
import json
import yaml

params = yaml.safe_load(open("params.yaml"))
with open("metrics.json", "w") as out:
    json.dump({"acc": round(1 - params["train"]["lr"], 4)}, out)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("git-run-flow")
    with pytest.MonkeyPatch.context() as patch:
        isolate_git(patch, root)
        with GitServer(root / "git", user=USER, password=TOKEN) as served:
            served.create("flow")
            files = {"params.yaml": PARAMS, "train.py": TRAIN, "metrics.json": '{"acc": 0.9}\n'}
            work = new_repo(root / "work", files)
            git(work, "push", "-q", served.authed_url("flow"), "main")
            sha = git(work, "rev-parse", "HEAD").strip()
            config = root / "config.toml"
            config.write_text(
                f'[[git]]\nhost = "127.0.0.1:{served.port}"\nusername = "{USER}"\n'
                f'token = "{TOKEN}"\n'
            )
            server = ServerProcess(root / "data", env={"TUNELAB_CONFIG_FILE": str(config)})
            server.start()
            try:
                with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
                    project = api.post("/projects", json={"name": "git-run-flow"}).json()
                    link = {"url": served.url_for("flow"), "default_branch": "main"}
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
                    }
            finally:
                server.stop()


@pytest.fixture(scope="module")
def server(flow: dict[str, object]) -> ServerProcess:
    """The page fixture's server: this module's own."""
    found = flow["server"]
    assert isinstance(found, ServerProcess)
    return found


def test_a_commit_run_from_the_form_is_executed_and_its_results_pushed(
    page: Page, flow: dict[str, object], tmp_path: Path
) -> None:
    sha, served = str(flow["sha"]), flow["served"]
    assert isinstance(served, GitServer)
    page.goto(f"/projects/{flow['project']}?group=commit")
    page.locator(f'tr.commit-row[data-sha="{sha}"]').get_by_role("link", name="Run").click()
    page.locator('tr.param-row[data-key="train.lr"] input').fill("0.25")
    page.locator("textarea[name=script]").fill("python train.py")
    page.get_by_label("Commit message").fill("Try lr 0.25")
    page.locator("#git-run-where").select_option(f"queue:{QUEUE}")
    page.get_by_role("button", name="Run experiment").click()

    page.wait_for_url("**group=commit**")
    row = page.locator(f'tr.commit-task[data-commit="{sha}"]')
    expect(row).to_have_count(1)
    # The rows re-read themselves while the run is queued or running.
    expect(row).to_have_attribute("data-status", "completed", timeout=120_000)
    task_id = row.get_attribute("data-task-id")

    def pushed() -> str | None:
        tip = git(served.root / "flow.git", "rev-parse", "refs/heads/main").strip()
        return tip if tip != sha else None

    tip = wait_for(pushed, 30, "the results commit on main")
    assert git(served.root / "flow.git", "rev-parse", "main^").strip() == sha
    shown = git(served.root / "flow.git", "show", "main:params.yaml")
    # The comment stays at its column.
    assert "  lr: 0.25 # learning rate\n" in shown and shown.startswith("# settings")
    assert '"acc": 0.75' in git(served.root / "flow.git", "show", "main:metrics.json")
    page.goto(f"/experiments/{task_id}/info")
    expect(page.locator(".git-run-results")).to_contain_text(f"pushed as {tip[:8]}")
    page.goto(f"/projects/{flow['project']}?group=commit")
    expect(page.locator(f'tr.commit-row[data-sha="{tip}"]')).to_contain_text("Try lr 0.25")
    page.screenshot(path=str(tmp_path / "git-run-pushed.png"), full_page=True)

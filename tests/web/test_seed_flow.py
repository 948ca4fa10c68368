"""The seeds' day in the browser, end to end: from the dashboard open a project, right-click
an experiment, clone it into a new project with a description, edit a hyperparameter and a
configuration object on the draft, enqueue it, watch a real agent run it (the status turns
Completed and the chart draws the new curve without a reload), then compare the two runs and
see the edited parameter highlighted."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.agents import agent_daemon
from tests.gitrepo import isolate_git, new_repo
from tests.scripts import run_script, script_env, unique
from tests.waiting import wait_for
from tests.web.conftest import screenshot

TRAIN = """
import argparse
from tunelab import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--epochs", type=int, default=6)
args = parser.parse_args()

task = Task.init(project_name=PROJECT, task_name=NAME)
model = task.connect_configuration({"depth": 18}, name="model")
logger = task.get_logger()
for i in range(args.epochs):
    logger.report_scalar("loss", "train", 1.0 / (1 + args.lr * model["depth"] * (i + 1)), i)
print(f"trained depth {model['depth']} with lr {args.lr}")
"""


@pytest.mark.slow
def test_clone_tune_enqueue_watch_and_compare_in_the_browser(
    page: Page, http: httpx.Client, api_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    project, name, queue = unique("seed"), unique("train"), unique("web-queue")
    repo = tmp_path / "repo"
    new_repo(repo, {"train.py": f"PROJECT = {project!r}\nNAME = {name!r}\n{TRAIN}"})
    local = run_script(repo / "train.py", script_env(api_url, tmp_path))
    assert local.returncode == 0, local.stderr
    (original,) = http.get("/api/v1/tasks", params={"project": project}).json()["items"]

    with agent_daemon(api_url, tmp_path, queue):
        wait_for(lambda: queue in http.get("/queues").text, timeout=30, what="the agent's queue")

        # Dashboard -> the project's experiments -> right-click -> Clone.
        page.goto("/")
        screenshot(page, "seed-1-dashboard")
        page.get_by_role("link", name=project).first.click()
        row = page.locator(f'tr.task-row[data-task-id="{original["id"]}"]')
        row.click(button="right")
        page.get_by_role("menuitem", name="Clone").click()
        dialog = page.locator("dialog#modal")
        tuned = f"{project}-tuned"
        field = dialog.get_by_label("Project")
        field.fill("")
        field.press_sequentially(tuned)
        dialog.get_by_role("button", name=f"Create New {tuned}").click()
        dialog.get_by_label("Description").fill("depth 50, lr 0.5")
        screenshot(page, "seed-2-clone")
        dialog.get_by_role("button", name="Clone", exact=True).click()
        expect(page).to_have_url(re.compile(r"/experiments/[0-9a-f]+/execution$"))
        draft_id = page.url.rsplit("/", 2)[-2]
        expect(page.locator("#task-status .status")).to_have_text("Draft")

        # Edit a hyperparameter and a configuration object on the draft.
        page.get_by_role("link", name="Configuration").click()
        args = page.locator('.hyper-section[data-section="Args"]')
        args.get_by_role("button", name="Edit").click()
        args.get_by_label("Args/lr").fill("0.5")
        args.get_by_role("button", name="Save").click()
        expect(args.locator("form")).to_have_count(0)
        model = page.locator('.config-object[data-name="model"]')
        model.get_by_role("button", name="Edit").click()
        model.get_by_label("Text of model").fill('{"depth": 50}')
        model.get_by_role("button", name="Save").click()
        expect(model.locator("pre")).to_contain_text('"depth": 50')
        screenshot(page, "seed-3-edited")

        # Enqueue from the experiment's own menu, on the agent's queue.
        page.locator(".task-menu-button").click()
        page.get_by_role("menuitem", name="Enqueue").click()
        dialog.get_by_label(queue).check()
        dialog.get_by_role("button", name="Enqueue", exact=True).click()
        expect(page.locator("#task-status .status")).not_to_have_text("Draft")

        # Watch it on the Scalars tab: no reload from here on.
        page.get_by_role("link", name="Scalars").click()
        page.evaluate("window.__sameDocument = true")
        expect(page.locator("#task-status .status")).to_have_text("Completed", timeout=180_000)
        loss = page.locator('.chart-card[data-chart-key="loss"]')
        expect(loss).to_have_attribute("data-points", "6", timeout=15_000)
        assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
        screenshot(page, "seed-4-scalars")

    stored = http.get(f"/api/v1/tasks/{draft_id}").json()
    assert stored["hyperparameters"]["Args"]["lr"]["value"] == "0.5"
    assert stored["comment"] == "depth 50, lr 0.5" and stored["project"]["name"] == tuned
    console = http.get(f"/api/v1/tasks/{draft_id}/console").json()["lines"]
    assert "trained depth 50 with lr 0.5" in [line["text"] for line in console]

    # Compare the two runs: select both rows, Compare, the edited parameter stands out.
    page.goto(f"/experiments?q={name}")
    for task_id in (original["id"], draft_id):
        page.locator(f'tr.task-row[data-task-id="{task_id}"] input.row-select').check()
    page.locator("[data-bulk-compare]").click()
    expect(page).to_have_url(re.compile(r"/compare\?ids="))
    lr = page.locator("#compare-side tr.compare-row", has_text="Args/lr")
    # The first column is the reference; the other run's value is the one marked.
    expect(lr).to_have_class(re.compile(r"\bdiffers\b"))
    expect(lr.locator("td.diff")).to_have_count(1)
    assert sorted(cell.strip() for cell in lr.locator("td").all_inner_texts()) == ["0.1", "0.5"]
    epochs = page.locator("#compare-side tr.compare-row", has_text="Args/epochs")
    expect(epochs.locator("td.diff")).to_have_count(0)
    screenshot(page, "seed-5-compare")

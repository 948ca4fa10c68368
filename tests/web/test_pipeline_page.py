"""The Pipeline tab in the browser, with real agents running the steps from a real git
repository: data -> train -> evaluate drawn as a graph whose nodes follow the run without a
reload (train waits at a gate the test opens), a click on a node opens the step's
experiment; a recorded run's cached step links to the task it reused, Stop pipeline stops
its queued steps, and the project's Pipelines listing shows controllers only; a pipeline
run cloned, its ``Pipeline`` parameter edited on the Configuration tab and enqueued from the
page runs again with the edited value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.agents import agent_daemon
from tests.gitrepo import isolate_git, new_repo
from tests.pipelines.test_pipeline_agents import CONTROLLER
from tests.scripts import run_script, script_env, unique
from tests.services import ServerProcess
from tests.waiting import final_status, wait_for
from tests.web.conftest import screenshot
from tunelab.pipelines import PipelineController
from tunelab.sdk.transport import ApiClient

DATA = """
from tunelab import Task
Task.init(project_name="p", task_name="data")
print("data ready")
"""
# Waits until the test opens the gate, so the page sees the step running.
TRAIN = """
import os, time
from tunelab import Task
task = Task.init(project_name="p", task_name="train")
p = task.connect({"gate": ""}, name="Step")
deadline = time.monotonic() + 60
while not os.path.exists(p["gate"]) and time.monotonic() < deadline:
    time.sleep(0.1)
print("trained")
"""
EVALUATE = """
from tunelab import Task
Task.init(project_name="p", task_name="evaluate")
print("evaluated")
"""


@pytest.fixture(scope="module")
def queue(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two agents on one queue: a controller run by an agent leaves one for its steps."""
    name = unique("pipe-web")
    with ExitStack() as stack:
        for _ in range(2):
            home = tmp_path_factory.mktemp("agent")
            stack.enter_context(agent_daemon(server.url, home, name))
        yield name


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _base_tasks(client: ApiClient, project: str, repo: Path) -> dict[str, str]:
    files = {"data.py": DATA, "train.py": TRAIN, "evaluate.py": EVALUATE}
    new_repo(repo, files)
    ids = {}
    for entry in files:
        execution = {"repository": str(repo), "branch": "main", "entry_point": entry,
                     "working_dir": "."}  # fmt: skip
        body = {"name": entry[:-3], "project": project, "status": "draft", "execution": execution}
        ids[entry[:-3]] = client.create_task(body)["id"]
    return ids


def _dag(client: ApiClient, controller_id: str) -> dict[str, Any]:
    text = client.get_task(controller_id)["configuration"]["Pipeline"]["text"]
    return {step["name"]: step for step in json.loads(text)["steps"]}


def test_the_graph_follows_the_run_live_and_a_node_opens_its_step(
    page: Page,
    client: ApiClient,
    queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_git(monkeypatch, tmp_path)
    project, gate = unique("pipe-page"), tmp_path / "gate"
    ids = _base_tasks(client, project, tmp_path / "repo")
    pipe = PipelineController(name="web", project=project, pool_period=0.2)
    pipe.set_default_execution_queue(queue)
    pipe.add_step("data", base_task_id=ids["data"])
    pipe.add_step(
        "train", base_task_id=ids["train"], parents=["data"],
        parameter_override={"Step/gate": str(gate)},
    )  # fmt: skip
    pipe.add_step("evaluate", base_task_id=ids["evaluate"], parents=["train"])
    pipe.start()
    try:
        page.goto(f"/experiments/{pipe.id}/pipeline")
        expect(page.get_by_role("link", name="Pipeline", exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        node = {n: page.locator(f'.pipe-node[data-step="{n}"]') for n in ids}
        expect(node["train"]).to_have_attribute("data-status", "running", timeout=30_000)
        expect(node["data"]).to_have_attribute("data-status", "completed")
        expect(node["evaluate"]).to_have_attribute("data-status", "pending")
        expect(node["train"]).to_contain_text("running")
        edges = page.locator(".pipe-edge")
        pairs = [(e.get_attribute("data-from"), e.get_attribute("data-to")) for e in edges.all()]
        assert pairs == [("data", "train"), ("train", "evaluate")]
        # Columns by depth: data left of train left of evaluate.
        xs = [float(node[n].locator("rect").get_attribute("x") or "") for n in ids]
        assert xs == sorted(xs) and len(set(xs)) == 3
        expect(page.locator("#pipeline-graph")).to_have_attribute("data-live", "true")
        page.evaluate("window.__sameDocument = true")
        screenshot(page, "pipeline-running")

        gate.write_text("go")
        expect(node["train"]).to_have_attribute("data-status", "completed", timeout=30_000)
        expect(node["evaluate"]).to_have_attribute("data-status", "completed", timeout=30_000)
        expect(page.locator("#task-status .status")).to_have_text("Completed", timeout=15_000)
        expect(page.locator("#pipeline-graph")).to_have_attribute("data-live", "false")
        assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
        screenshot(page, "pipeline-completed")

        train_id = _dag(client, str(pipe.id))["train"]["task_id"]
        page.locator('.pipe-node[data-step="train"]').click()
        expect(page).to_have_url(re.compile(f"/experiments/{train_id}/execution$"))
    finally:
        gate.write_text("go")
        assert pipe.wait(timeout=60)
    assert pipe.is_successful()


def _recorded_run(client: ApiClient, project: str, queue: str) -> tuple[str, dict[str, str]]:
    """A controller with a written record: a completed step, one whose task waits in a queue
    no agent serves, a cached step, a pending one."""
    ids = {
        n: client.create_task({"name": n, "project": project, "status": "draft"})["id"]
        for n in ("done", "waiting")
    }
    client.enqueue_task(ids["waiting"], queue=queue)
    steps = [
        {"name": "done", "parents": [], "task_id": ids["done"], "status": "completed"},
        {"name": "waiting", "parents": ["done"], "task_id": ids["waiting"], "status": "queued"},
        {"name": "reused", "parents": [], "task_id": ids["done"], "status": "cached",
         "cached_from": ids["done"]},
        {"name": "last", "parents": ["waiting", "reused"], "task_id": None, "status": "pending"},
    ]  # fmt: skip
    text = json.dumps({"parameters": {}, "steps": steps})
    controller = client.create_task(
        {"name": "recorded", "project": project, "type": "controller", "status": "running",
         "configuration": {"Pipeline": {"type": "json", "text": text}}}
    )  # fmt: skip
    return controller["id"], ids


def test_a_cached_step_links_its_task_stop_pipeline_stops_its_steps_and_the_listing(
    page: Page, client: ApiClient, http: httpx.Client
) -> None:
    project = unique("pipe-rec")
    controller_id, ids = _recorded_run(client, project, unique("nobody"))
    page.goto(f"/experiments/{controller_id}/pipeline")
    reused = page.locator('.pipe-node[data-step="reused"]')
    expect(reused).to_have_attribute("data-status", "cached")
    expect(reused).to_have_attribute("href", f"/experiments/{ids['done']}/execution")
    expect(page.locator('.pipe-node[data-step="last"]')).to_have_attribute("data-status", "pending")
    assert page.locator(".pipe-edge").count() == 3
    # The pending step has no task: nothing to open.
    assert page.locator('g.pipe-node[data-step="last"]').count() == 1

    # A queued clone's record is its source's: stopping the clone leaves those steps alone.
    clone = client.clone_task(controller_id)
    client.enqueue_task(clone["id"], queue=unique("nobody"))
    answer = http.post(f"/api/v1/tasks/{clone['id']}/pipeline/stop", json={"reason": "no"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": clone["id"], "status": "stopped", "stopped": []}
    assert client.get_task(ids["waiting"])["status"] == "queued"

    page.get_by_role("button", name="Stop pipeline").click()
    expect(page.locator(".toast").last).to_contain_text("1 step asked to stop")
    waiting = page.locator('.pipe-node[data-step="waiting"]')
    expect(waiting).to_have_attribute("data-status", "stopped")
    assert client.get_task(ids["waiting"])["status"] == "stopped"
    assert client.get_task(controller_id)["stop_requested"] is True

    # The project's pipelines: the experiments table filtered to controllers.
    page.get_by_role("link", name=f"All pipelines of {project}").click()
    rows = page.locator("tr.task-row")
    expect(rows).to_have_count(2)  # the run and its clone, not their steps
    assert {r.get_attribute("data-task-id") for r in rows.all()} == {controller_id, clone["id"]}
    # From the project's page, and Stop in a row's menu stops that run's steps too.
    second_id, second = _recorded_run(client, project, unique("nobody"))
    page.goto(f"/projects/{client.get_task(controller_id)['project']['id']}")
    expect(rows).to_have_count(7)
    page.get_by_role("link", name="Pipelines", exact=True).click()
    expect(rows).to_have_count(3)
    screenshot(page, "pipeline-listing")
    page.locator(f'tr.task-row[data-task-id="{second_id}"]').click(button="right")
    page.get_by_role("menuitem", name="Stop").click()
    wait_for(lambda: client.get_task(second["waiting"])["status"] == "stopped", 10, "the step")
    assert client.get_task(second_id)["stop_requested"] is True

    other = client.create_task({"name": "plain", "project": project, "status": "draft"})
    refused = http.post(f"/api/v1/tasks/{other['id']}/pipeline/stop", json={})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert "is not a pipeline run" in refused.json()["error"]["message"]


def test_a_hostile_record_is_drawn_escaped_and_its_ids_stay_one_segment(
    client: ApiClient, http: httpx.Client
) -> None:
    steps = [
        {"name": "<script>x</script>", "parents": ["ghost", 3], "task_id": "../../admin",
         "status": "exploded"},
        "not a step",
        {"name": "b", "parents": ["<script>x</script>"], "task_id": 7, "status": "running"},
    ]  # fmt: skip
    text = json.dumps({"steps": steps})
    controller = client.create_task(
        {"name": "odd", "project": unique("pipe-odd"), "type": "controller", "status": "failed",
         "configuration": {"Pipeline": {"type": "json", "text": text}}}
    )  # fmt: skip
    page = http.get(f"/experiments/{controller['id']}/pipeline")
    assert page.status_code == 200
    assert "<script>x" not in page.text and "&lt;script&gt;x" in page.text
    assert 'href="/experiments/%2E%2E%2F%2E%2E%2Fadmin/execution"' in page.text
    assert 'data-status="pending"' in page.text  # an unknown status is not drawn as given
    assert page.text.count('class="pipe-edge"') == 1
    assert "hx-trigger" not in page.text.split('id="pipeline-graph"')[1].split(">")[0]
    broken = client.create_task(
        {"name": "broken", "project": unique("pipe-odd"), "type": "controller",
         "configuration": {"Pipeline": {"type": "json", "text": "{not json"}}}
    )  # fmt: skip
    assert "No pipeline record yet" in http.get(f"/experiments/{broken['id']}/pipeline").text


def test_a_pipeline_run_cloned_edited_and_enqueued_from_the_page_runs_with_the_edit(
    page: Page,
    client: ApiClient,
    api_url: str,
    queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_git(monkeypatch, tmp_path)
    project = unique("pipe-clone")
    source = f"PROJECT = {project!r}\nQUEUE = {queue!r}\n{CONTROLLER}"
    repo = new_repo(tmp_path / "repo", {"nightly.py": source})
    local = run_script(repo / "nightly.py", script_env(api_url, tmp_path))
    assert local.returncode == 0, local.stderr
    controller_id = client.list_tasks(project=project, type=["controller"])["items"][0]["id"]
    assert final_status(client, controller_id, timeout=60)["status"] == "completed"

    page.goto(f"/experiments/{controller_id}/pipeline")
    expect(page.locator('.pipe-node[data-step="double"]')).to_have_attribute(
        "data-status", "completed"
    )
    page.locator(".task-menu-button").click()
    page.get_by_role("menuitem", name="Clone").click()
    dialog = page.locator("dialog#modal")
    dialog.get_by_role("button", name="Clone", exact=True).click()
    expect(page).to_have_url(re.compile(r"/experiments/[0-9a-f]+/execution$"))
    draft_id = page.url.rsplit("/", 2)[-2]

    # The draft's graph: its steps have not run (the record is its source's).
    page.get_by_role("link", name="Pipeline", exact=True).click()
    expect(page.locator('.pipe-node[data-step="double"]')).to_have_attribute(
        "data-status", "pending"
    )
    page.get_by_role("link", name="Configuration").click()
    section = page.locator('.hyper-section[data-section="Pipeline"]')
    section.get_by_role("button", name="Edit").click()
    section.get_by_label("Pipeline/x").fill("5")
    section.get_by_role("button", name="Save").click()
    expect(section.locator("form")).to_have_count(0)
    page.locator(".task-menu-button").click()
    page.get_by_role("menuitem", name="Enqueue").click()
    dialog.get_by_label(queue).check()
    dialog.get_by_role("button", name="Enqueue", exact=True).click()
    expect(page.locator("#task-status .status")).not_to_have_text("Draft")

    rerun = final_status(client, draft_id, timeout=60)
    assert rerun["status"] == "completed", rerun["status_reason"]
    step = wait_for(lambda: _dag(client, draft_id)["double"]["task_id"], 10, "the step's task")
    lines = [x["text"] for x in client.get_console(step, limit=10000)["lines"]]
    assert "DOUBLE int 5" in lines

"""Hyperparameter optimization from the web app, in a real Chromium against a real server and
real agent daemons: "Optimize…" on a completed experiment → the form → an optimizer task that
an agent runs from the controller queue → its trials run on another agent → the Optimization
tab fills in while it runs → the best trial opens."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.agents import agent_daemon
from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess
from tests.web.conftest import screenshot
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.slow

TRAIN = """
import math
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="quad")
params = task.connect({"lr": 0.01, "batch": 16, "opt": "adam"}, name="Args")
assert isinstance(params["batch"], int), type(params["batch"])
loss = abs(math.log10(params["lr"]) + 2) + params["batch"] / 64
task.get_logger().report_scalar("loss", "val", loss, iteration=0)
"""


@pytest.fixture(scope="module")
def queues(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One agent for optimizers, one for trials."""
    names = {"controller": unique("opt-svc"), "trials": unique("opt-trials")}
    with (
        agent_daemon(server.url, tmp_path_factory.mktemp("svc"), names["controller"]),
        agent_daemon(server.url, tmp_path_factory.mktemp("trials"), names["trials"]),
    ):
        yield names


@pytest.fixture(scope="module")
def base(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A completed run of TRAIN (its script's text recorded, no repository)."""
    home = tmp_path_factory.mktemp("base")
    project = unique("opt-web")
    script = write_script(home / "code", f"PROJECT = {project!r}\n{TRAIN}")
    done = run_script(script, script_env(server.url, home))
    assert done.returncode == 0, done.stderr
    with ApiClient(server.url) as client:
        [task] = client.list_tasks(project=project)["items"]
        return client.get_task(task["id"])


def test_the_form_starts_an_optimizer_whose_trials_fill_the_tab_live(
    page: Page, server: ServerProcess, queues: dict, base: dict
) -> None:
    page.goto(f"/experiments/{base['id']}/execution")
    page.get_by_role("link", name="Optimize…").click()
    expect(page.locator("#optimize-form")).to_be_visible()
    lr = page.locator('tr[data-param="Args/lr"]')
    lr.get_by_label("Search Args/lr").check()
    lr.get_by_label("Range of Args/lr").select_option("loguniform")
    lr.get_by_label("Min of Args/lr").fill("0.001")
    lr.get_by_label("Max of Args/lr").fill("0.1")
    batch = page.locator('tr[data-param="Args/batch"]')
    batch.get_by_label("Search Args/batch").check()
    expect(batch.get_by_label("Range of Args/batch").locator("option")).to_have_text(
        ["int", "choice"]  # an int parameter is searched with ints
    )
    batch.get_by_label("Min of Args/batch").fill("8")
    batch.get_by_label("Max of Args/batch").fill("32")
    batch.get_by_label("Step of Args/batch").fill("8")
    page.locator('select[name="objective"]').select_option(json.dumps(["loss", "val"]))
    page.locator('select[name="strategy"]').select_option("random")
    page.locator('input[name="queue"]').fill(queues["trials"])
    page.locator('input[name="controller_queue"]').fill(queues["controller"])
    page.locator('input[name="concurrency"]').fill("2")
    page.locator('input[name="total"]').fill("4")
    page.locator('input[name="poll_seconds"]').fill("0.3")
    page.get_by_role("button", name="Start optimizer").click()

    page.wait_for_url("**/optimization")
    optimizer_id = page.url.split("/experiments/")[1].split("/")[0]
    tab = page.locator("#optimization-trials")
    rows = tab.locator("tbody tr[data-trial]")
    # Rows appear while the optimizer still runs (the fragment polls itself).
    expect(rows.first).to_be_visible(timeout=60_000)
    assert tab.get_attribute("data-live") == "true"
    expect(tab).to_have_attribute("data-live", "false", timeout=90_000)
    expect(rows).to_have_count(4)
    expect(page.locator(".optimization-objective svg circle")).to_have_count(4)
    expect(page.locator(".optimization-parcoords svg path.trial-line")).to_have_count(4)

    with httpx.Client(base_url=server.url) as http:
        own = http.get(f"/api/v1/tasks/{optimizer_id}").json()
        assert own["type"] == "optimizer" and own["status"] == "completed", own["status_reason"]
        assert own["capture_warnings"] == [], own["capture_warnings"]
        spec = json.loads(own["configuration"]["optimizer"]["text"])
        kinds = {r["name"]: r["type"] for r in spec["hyper_parameters"]}
        assert kinds == {
            "Args/batch": "UniformIntegerParameterRange",
            "Args/lr": "LogUniformParameterRange",
        }
        trials = [r.get_attribute("data-trial") for r in rows.all()]
        losses = {}
        for trial_id in trials:
            trial = http.get(f"/api/v1/tasks/{trial_id}").json()
            assert trial["status"] == "completed" and trial["parent"] == base["id"]
            assert trial["hyperparameters"]["Args"]["batch"]["type"] == "int"
            metrics = http.get(f"/api/v1/tasks/{trial_id}/metrics").json()["metrics"]
            losses[trial_id] = metrics["loss"]["val"]["last"]
    assert trials[0] == min(losses, key=losses.__getitem__)  # best first

    rows.first.locator("a").click()
    page.wait_for_url(f"**/experiments/{trials[0]}/scalars")
    page.go_back()
    expect(page.locator("#optimization-trials")).to_be_visible()
    screenshot(page, "optimizer_optimization_tab")


def test_a_bad_range_is_refused_with_its_field_named(http: httpx.Client, base: dict) -> None:
    csrf = http.get(f"/experiments/{base['id']}/optimize")
    assert csrf.status_code == 200 and "Args/lr" in csrf.text
    form = {"param": "Args/batch", "kind:Args/batch": "uniform", "min:Args/batch": "1",
            "max:Args/batch": "4", "objective": json.dumps(["loss", "val"]),
            "queue": "q", "controller_queue": "c"}  # fmt: skip
    answer = http.post(f"/experiments/{base['id']}/optimize", data=form)
    assert answer.status_code == 400, answer.text
    assert "Args/batch: a parameter of type int is searched with int, choice" in answer.text


def test_stop_stops_the_optimizer_and_its_active_trials(
    http: httpx.Client, server: ServerProcess, base: dict
) -> None:
    nobody = unique("no-agent")  # no agent serves it: everything stays queued
    form = {"param": "Args/batch", "kind:Args/batch": "int", "min:Args/batch": "8",
            "max:Args/batch": "16", "objective": json.dumps(["loss", "val"]),
            "queue": nobody, "controller_queue": nobody}  # fmt: skip
    started = http.post(
        f"/experiments/{base['id']}/optimize", data=form, headers={"HX-Request": "true"}
    )
    assert started.status_code == 200, started.text
    optimizer_id = started.headers["HX-Redirect"].split("/")[2]
    with ApiClient(server.url) as client:
        assert client.get_task(optimizer_id)["status"] == "queued"
        trial = client.clone_task(base["id"])
        client.update_task(trial["id"], tags=[f"optimizer:{optimizer_id}"])
        client.enqueue_task(trial["id"], queue=nobody)
        other = client.clone_task(base["id"])
        client.enqueue_task(other["id"], queue=nobody)
        tab = http.get(f"/experiments/{optimizer_id}/optimization")
        assert tab.status_code == 200 and trial["id"] in tab.text and 'data-live="true"' in tab.text
        stopped = http.post(f"/experiments/{optimizer_id}/optimization/stop")
        assert stopped.status_code < 400, stopped.text
        assert client.get_task(optimizer_id)["status"] == "stopped"
        assert client.get_task(trial["id"])["status"] == "stopped"
        assert client.get_task(other["id"])["status"] == "queued"  # not one of its trials
        client.dequeue_task(other["id"])

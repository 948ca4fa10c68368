"""The Run form in a real Chromium, against a real server and a real git server over HTTP:
from the experiments grouped by commit, a commit's Run opens the form; a nested parameter is
changed in its tree, a data file replaced by an upload, a new branch named, and the run
submitted: it appears queued under its commit. Then the draft's Configuration tab edits a
section named after a parameter file in a folder, and its Info tab shows the git run."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.git_server import GitServer
from tests.gitrepo import git, new_repo, write
from tests.services import ServerProcess
from tests.web.conftest import screenshot

USER, TOKEN = "run-bot", "tok-run-5d2e61ab"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    **{
        f"GIT_{r}_{k}": v
        for r in ("AUTHOR", "COMMITTER")
        for k, v in (("NAME", "Ada Tester"), ("EMAIL", "ada@example.com"))
    },
}
PARAMS_YAML = "train:\n  lr: 0.1\n  epochs: 10\nseed: 7\n"
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/data.xml]
    params: [train]
"""
NEW_DATA = b"<rows><row>42</row></rows>\n"


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    saved = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    try:
        with GitServer(tmp_path_factory.mktemp("git-run"), user=USER, password=TOKEN) as served:
            served.create("runs")
            yield served
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, git_server: GitServer
) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("git-run-server")
    config = data / "config.toml"
    config.write_text(
        f'[[git]]\nhost = "127.0.0.1:{git_server.port}"\nusername = "{USER}"\ntoken = "{TOKEN}"\n'
    )
    proc = ServerProcess(data / "data", env={"TUNELAB_CONFIG_FILE": str(config)})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def linked(
    git_server: GitServer, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """A pipeline commit pushed, and a project linked to it: {"project", "sha"}."""
    work = new_repo(
        tmp_path_factory.mktemp("git-run-work") / "work",
        {"train.py": "print('train')\n", "params.yaml": PARAMS_YAML, "dvc.yaml": DVC_YAML},
    )
    write(work / "configs" / "train.yaml", "optimizer:\n  name: adam\n  beta: 0.9\n")
    write(work / "data" / "data.xml.dvc", "outs:\n- path: data.xml\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "Pipeline")
    git(work, "push", "-q", git_server.authed_url("runs"), "main")
    sha = git(work, "rev-parse", "HEAD").strip()
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        project = api.post("/projects", json={"name": "git-run-web"}).json()
        answer = api.put(
            f"/projects/{project['id']}/repository",
            json={"url": git_server.url_for("runs"), "params_files": ["configs/train.yaml"]},
        )
        assert answer.status_code == 200, answer.text
    return {"project": project["id"], "sha": sha}


def test_run_a_commit_with_a_changed_parameter_and_an_uploaded_file(
    page: Page,
    linked: dict[str, str],
    tmp_path: Path,
    server: ServerProcess,
    allowed_console_errors: list[str],
) -> None:
    # The wrong value, refused on purpose.
    allowed_console_errors.extend([r"status of 400", r"Error Code 400"])
    sha = linked["sha"]
    page.goto(f"/projects/{linked['project']}?group=commit")
    row = page.locator(f'tr.commit-row[data-sha="{sha}"]')
    expect(row).to_be_visible()
    row.get_by_role("link", name="Run").click()
    expect(page.get_by_role("heading", name="Run experiment")).to_be_visible()

    # The tree: train's keys are listed by the stage; seed and the configs file are hidden.
    lr = page.locator('tr.param-row[data-key="train.lr"] input')
    expect(lr).to_have_value("0.1")
    expect(page.locator('tr.param-row[data-key="seed"]')).to_be_hidden()
    page.get_by_label("Show all input parameters (including hidden)").check()
    expect(page.locator('tr.param-row[data-key="seed"]')).to_be_visible()
    expect(page.locator('tr.param-row[data-key="optimizer.beta"] input')).to_have_value("0.9")
    lr.fill("fast")
    page.get_by_role("button", name="Run experiment").click()
    expect(page.locator("#toasts")).to_contain_text("train.lr must be float")
    lr.fill("0.02")

    data_row = page.locator('tr.data-file[data-path="data/data.xml"]')
    upload = tmp_path / "data.xml"
    upload.write_bytes(NEW_DATA)
    data_row.locator("input[type=file]").set_input_files(str(upload))
    expect(data_row.locator(".data-upload-state")).to_contain_text("Uploaded data.xml")

    expect(page.locator("textarea[name=script]")).to_have_value("dvc exp run")
    page.get_by_label("Commit message").fill("Smaller learning rate")
    branch = page.get_by_label("New branch name")
    expect(branch).to_have_value(f"tunelab/{sha[:7]}-1")
    branch.fill(f"tunelab/{sha[:7]}-lr")
    expect(page.locator("#git-run-target-new")).to_be_checked()
    screenshot(page, "git-run-form")
    page.screenshot(path=str(tmp_path / "git-run-form.png"), full_page=True)
    page.get_by_role("button", name="Run experiment").click()

    page.wait_for_url("**group=commit**")
    task_row = page.locator(f'tr.commit-task[data-commit="{sha}"]')
    expect(task_row).to_have_count(1)
    expect(task_row).to_have_attribute("data-status", "queued")
    expect(task_row.locator(".col-name")).to_have_text("Smaller learning rate")
    page.screenshot(path=str(tmp_path / "git-run-queued.png"), full_page=True)

    task_id = task_row.get_attribute("data-task-id")
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        task = api.get(f"/tasks/{task_id}").json()
    assert task["hyperparameters"]["params.yaml"]["train.lr"]["value"] == "0.02"
    assert task["hyperparameters"]["configs/train.yaml"]["optimizer.name"]["value"] == "adam"
    run = task["git_run"]
    assert run["branch"] == f"tunelab/{sha[:7]}-lr" and run["pull_request"] is True
    assert run["commit_message"] == "Smaller learning rate"
    (data,) = run["data_files"]
    assert data["path"] == "data/data.xml"
    assert data["sha256"] == hashlib.sha256(NEW_DATA).hexdigest()


def test_a_drafts_file_named_section_edits_and_its_info_shows_the_run(
    page: Page, linked: dict[str, str], server: ServerProcess
) -> None:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        answer = api.post(
            f"/projects/{linked['project']}/git-runs",
            json={"commit": linked["sha"], "draft": True, "commit_message": "Draft run"},
        )
        assert answer.status_code == 201, answer.text
        task_id = answer.json()["id"]
    page.goto(f"/experiments/{task_id}/configuration")
    section = page.locator('section.hyper-section[data-section="configs/train.yaml"]')
    expect(section).to_be_visible()
    section.get_by_role("button", name="Edit").click()
    value = section.locator("input[value='0.9']")
    value.fill("0.95")
    section.get_by_role("button", name="Save").click()
    expect(section.get_by_text("0.95")).to_be_visible()
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        stored = api.get(f"/tasks/{task_id}").json()["hyperparameters"]
    assert stored["configs/train.yaml"]["optimizer.beta"]["value"] == "0.95"

    page.goto(f"/experiments/{task_id}/info")
    info = page.locator("section.git-run-info")
    expect(info).to_contain_text(linked["sha"][:8])
    expect(info).to_contain_text("dvc exp run")
    expect(info.locator(".git-run-results")).to_contain_text("not yet")


def test_the_cloud_tab_sets_the_instance_and_the_script_tab_shows_its_skypilot_task(
    page: Page, linked: dict[str, str], server: ServerProcess
) -> None:
    sha = linked["sha"]
    page.goto(f"/projects/{linked['project']}/run?commit={sha}")
    cloud_task = page.locator("#git-run-cloud-task")
    # The Script tab first: the form's script, and the commands a cloud instance runs.
    expect(page.get_by_role("tab", name="Script")).to_have_attribute("aria-selected", "true")
    expect(cloud_task).to_contain_text('run: "exec tunelab agent execute')
    expect(page.get_by_label("Region")).to_be_hidden()

    page.get_by_role("tab", name="Cloud").click()
    expect(page.locator("textarea[name=script]")).to_be_hidden()
    page.get_by_role("combobox", name="Cloud").fill("aws")
    page.get_by_label("Region").fill("us-east-1")
    page.get_by_label("Instance size").fill("p4d.24xlarge")
    page.get_by_label("Accelerators").fill("A100:8")
    page.get_by_label("Disk size").fill("200G")
    page.get_by_label("Spot instance").check()

    page.get_by_role("tab", name="Script").click()
    for line in ('infra: "aws/us-east-1"', 'instance_type: "p4d.24xlarge"',
                 'accelerators: "A100:8"', "use_spot: true", "disk_size: 200",
                 "TUNELAB_API_TOKEN: \"<the task's key>\""):  # fmt: skip
        expect(cloud_task).to_contain_text(line)
    page.get_by_label("Commit message").fill("Cloud run")
    page.get_by_role("button", name="Save as draft").click()

    page.wait_for_url("**group=commit**")
    row = page.locator(f'tr.commit-task[data-commit="{sha}"]', has_text="Cloud run")
    expect(row).to_have_attribute("data-status", "draft")
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        task = api.get(f"/tasks/{row.get_attribute('data-task-id')}").json()
        asked = {k: v for k, v in task["resources"].items() if v not in (None, "", False)}
        wanted = {"cloud": "aws", "region": "us-east-1", "instance_type": "p4d.24xlarge",
                  "gpus": 8, "gpu_type": "A100", "spot": True, "disk_size": "200G"}  # fmt: skip
        assert asked == wanted
        # The API takes the same resources; a bad one is a 400 naming it.
        made = api.post(
            f"/projects/{linked['project']}/git-runs",
            json={"commit": sha, "draft": True, "resources": {"cloud": "gcp", "spot": True}},
        )
        assert made.status_code == 201, made.text
        given = made.json()["resources"]
        assert (given["cloud"], given["spot"]) == ("gcp", True)
        bad = api.post(
            f"/projects/{linked['project']}/git-runs",
            json={"commit": sha, "draft": True, "resources": {"region": "no such region!"}},
        )
        assert bad.status_code == 400 and "resources.region" in bad.json()["error"]["message"]


def test_the_run_form_asks_for_gpus_cpus_memory_and_a_time_limit(
    page: Page, linked: dict[str, str], server: ServerProcess, allowed_console_errors: list[str]
) -> None:
    # The bad values, refused on purpose.
    allowed_console_errors.extend([r"status of 400", r"Error Code 400"])
    sha = linked["sha"]
    page.goto(f"/projects/{linked['project']}/run?commit={sha}")
    where = page.locator("section.git-run-where")
    where.get_by_label("GPUs").fill("2")
    where.get_by_label("GPU type").fill("A100")
    where.get_by_label("CPUs").fill("eight")
    where.get_by_label("Memory").fill("32g")
    where.get_by_label("Time limit").fill("90m")
    page.get_by_label("Commit message").fill("Compute run")
    save = page.get_by_role("button", name="Save as draft")
    save.click()
    toasts = page.locator("#toasts")
    expect(toasts).to_contain_text("cpus must be a whole number")
    where.get_by_label("CPUs").fill("8")
    # Accelerators are GPUs and GPU type written SkyPilot's way: H100:2 contradicts them.
    page.get_by_role("tab", name="Cloud").click()
    accelerators = page.get_by_label("Accelerators")
    accelerators.fill("H100:2")
    save.click()
    expect(toasts).to_contain_text("accelerators 'H100:2' disagree with GPUs")
    accelerators.fill("A100:2")
    page.get_by_role("tab", name="Script").click()
    cloud_task = page.locator("#git-run-cloud-task")
    for line in ('accelerators: "A100:2"', 'cpus: "8"', 'memory: "32"'):
        expect(cloud_task).to_contain_text(line)
    save.click()

    page.wait_for_url("**group=commit**")
    # The refused submissions stored nothing: one task, with every field.
    row = page.locator(f'tr.commit-task[data-commit="{sha}"]', has_text="Compute run")
    expect(row).to_have_count(1)
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as api:
        task = api.get(f"/tasks/{row.get_attribute('data-task-id')}").json()
    asked = {k: v for k, v in task["resources"].items() if v not in (None, "", False)}
    assert asked == {
        "gpus": 2, "gpu_type": "A100", "cpus": 8, "memory": "32G", "time_limit": "1:30:00"
    }  # fmt: skip

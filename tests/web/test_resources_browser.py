"""In Chromium: a draft's resources edited on its Execution tab (saved, shown, kept over a
reload; a bad value is a toast and stores nothing), a launcher and its jobs on the Workers
page, and the job a launcher runs a task in on the task's Info tab, followed as it changes.

The launcher's worker and the task's launch record are made with the API, as a launcher
makes them (the real Slurm path is proven in tests/launchers)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot
from tests.web.seed import create_task, project_name

# The Workers list polls every few seconds and the experiment page every 2 s: a change shows
# well within this, however busy the machine.
FOLLOW_MS = 10_000


def _resources(http: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/v1/tasks/{task_id}")
    assert answer.status_code == 200, answer.text
    resources: dict[str, Any] = answer.json()["resources"]
    return resources


def _row(page: Page, label: str) -> Any:
    """The Resources section's row for ``label``."""
    return page.locator("#exec-resources tr", has=page.locator(f"th:text-is('{label}')"))


def _edit_resources(page: Page, values: dict[str, str]) -> None:
    section = page.locator("#exec-resources")
    section.get_by_role("button", name="Edit").click()
    for label, value in values.items():
        section.get_by_label(label, exact=True).fill(value)
    section.get_by_role("button", name="Save").click()


def test_resources_edited_on_the_execution_tab_are_saved_shown_and_kept(
    page: Page, http: httpx.Client
) -> None:
    tid = create_task(http, project_name("res-web"), "sized")["id"]
    page.goto(f"/experiments/{tid}/execution")
    section = page.locator("#exec-resources")
    expect(section).to_contain_text("No resources asked")
    _edit_resources(page, {"GPUs": "2", "CPUs": "8", "Memory": "32g", "Time limit": "90m"})
    expect(page.locator("#toasts")).to_contain_text("Saved the resources")
    shown = {"GPUs": "2", "CPUs": "8", "Memory": "32G", "Time limit": "1:30:00"}
    for label, value in shown.items():
        expect(_row(page, label)).to_contain_text(value)
    stored = _resources(http, tid)
    assert (stored["gpus"], stored["cpus"], stored["memory"], stored["time_limit"]) == (
        2,
        8,
        "32G",
        "1:30:00",
    )
    screenshot(page, "resources-saved")
    page.reload()
    for label, value in shown.items():
        expect(_row(page, label)).to_contain_text(value)
    # The form opens on the stored values.
    section.get_by_role("button", name="Edit").click()
    expect(section.get_by_label("Memory", exact=True)).to_have_value("32G")
    expect(section.get_by_label("GPUs", exact=True)).to_have_value("2")


def test_a_bad_resource_value_is_a_toast_and_stores_nothing(
    page: Page, http: httpx.Client, allowed_console_errors: list[str]
) -> None:
    allowed_console_errors.extend([r"status of 400", r"Error Code 400"])  # the refused saves
    task = create_task(http, project_name("res-web"), "bad", resources={"gpus": 1, "cpus": 4})
    before = _resources(http, task["id"])
    page.goto(f"/experiments/{task['id']}/execution")
    section = page.locator("#exec-resources")
    bad = [
        ("CPUs", "many", "cpus must be a whole number, got 'many'"),
        ("Time limit", "soon", "time_limit must be like '2:00:00', '90m' or '2h', got 'soon'"),
        ("Memory", "lots", "resources.memory must be a size like '16G' or '512M', got 'lots'"),
    ]
    for label, value, message in bad:
        # A good value beside the bad one is not stored either.
        _edit_resources(page, {"GPUs": "3", label: value})
        toast = page.locator("#toasts .toast-error").last
        expect(toast).to_contain_text(message)
        # The form stays open with what the user typed, to correct it.
        expect(section.get_by_label(label, exact=True)).to_have_value(value)
        assert _resources(http, task["id"]) == before
        section.get_by_role("button", name="Cancel").click()
    screenshot(page, "resources-refused")
    page.reload()
    expect(_row(page, "GPUs")).to_contain_text("1")
    expect(_row(page, "CPUs")).to_contain_text("4")


def test_zero_gpus_and_a_spot_request_show_on_the_execution_tab_and_clear(
    page: Page, http: httpx.Client
) -> None:
    # Set elsewhere (the API, `tunelab task set-resources --gpus 0 --spot`): the tab shows
    # what the task asks, a launcher's job asks no GPU and a spot instance.
    task = create_task(http, project_name("res-web"), "cpu-spot", resources={"gpus": 0})
    tid = task["id"]
    page.goto(f"/experiments/{tid}/execution")
    section = page.locator("#exec-resources")
    expect(section).not_to_contain_text("No resources asked")
    expect(_row(page, "GPUs")).to_contain_text("0")
    # The form sets and unsets spot like the other fields.
    section.get_by_role("button", name="Edit").click()
    expect(section.get_by_label("GPUs", exact=True)).to_have_value("0")
    section.get_by_label("Spot instance", exact=True).check()
    section.get_by_role("button", name="Save").click()
    expect(_row(page, "Spot instance")).to_contain_text("yes")
    assert _resources(http, tid)["spot"] is True
    page.reload()
    expect(_row(page, "Spot instance")).to_contain_text("yes")
    section.get_by_role("button", name="Edit").click()
    expect(section.get_by_label("Spot instance", exact=True)).to_be_checked()
    section.get_by_label("Spot instance", exact=True).uncheck()
    section.get_by_role("button", name="Save").click()
    expect(_row(page, "Spot instance")).to_contain_text("—")
    assert _resources(http, tid)["spot"] is False
    # Clear asks nothing of anything, spot included.
    http.patch(f"/api/v1/tasks/{tid}", json={"resources": {"spot": True}})
    page.reload()
    page.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="Clear").click()
    expect(section).to_contain_text("No resources asked")
    stored = _resources(http, tid)
    assert (stored["gpus"], stored["spot"]) == (None, False)


def _launched(http: httpx.Client, queue: str, name: str) -> tuple[str, str]:
    """A launcher's worker (``host:slurm:queue``) and a task it runs as a pending job."""
    worker = f"login1:slurm:{queue}"
    registered = http.post("/api/v1/workers", json={"id": worker, "queues": [queue]})
    assert registered.status_code == 200, registered.text
    tid = create_task(http, project_name("res-web"), name)["id"]
    started = http.post(f"/api/v1/tasks/{tid}/start", json={"worker": worker})
    assert started.status_code == 200, started.text
    _launch(http, tid, worker, "PENDING", "Resources")
    return worker, tid


def _launch(http: httpx.Client, tid: str, worker: str, state: str, reason: str) -> None:
    launch = {"backend": "slurm", "job_id": "4242", "state": state, "reason": reason,
              "launcher": worker}  # fmt: skip
    answer = http.patch(f"/api/v1/tasks/{tid}", json={"launch": launch})
    assert answer.status_code == 200, answer.text


def test_a_launched_task_on_the_workers_page_and_its_info_tab(
    page: Page, http: httpx.Client
) -> None:
    queue = f"gpu-{uuid.uuid4().hex[:6]}"
    worker, tid = _launched(http, queue, "launched")
    page.goto("/workers")
    expect(page.locator("main p.muted").first).to_contain_text("Agents and launchers")
    row = page.locator("tr.worker-row", has=page.get_by_text(worker, exact=True))
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name=queue)).to_have_attribute("href", f"/queues/{queue}")
    job = row.locator("ul.launched-jobs li")
    expect(job).to_have_count(1)
    expect(job).to_contain_text("Slurm job 4242: pending (Resources)")
    screenshot(page, "workers-launcher")
    job.get_by_role("link", name="launched").click()
    expect(page).to_have_url(re.compile(f"/experiments/{tid}"))
    page.get_by_role("link", name="Info", exact=True).click()
    launch = page.locator("td.launch")
    expect(launch).to_have_text(re.compile(r"^\s*4242\s+pending in Slurm: Resources\s*$"))
    # Running is the launcher's status; the header says the job still waits for Slurm.
    status = page.locator("#task-status")
    expect(status).to_have_text("Running · pending in Slurm")
    screenshot(page, "info-pending-job")
    # The tab follows the job without a reload (the page polls the task's state).
    _launch(http, tid, worker, "RUNNING", "")
    expect(launch).to_have_text(re.compile(r"^\s*4242\s+running in Slurm\s*$"), timeout=FOLLOW_MS)
    expect(status).to_have_text("Running", timeout=FOLLOW_MS)
    page.goto("/workers")
    expect(row.locator("ul.launched-jobs li")).to_have_text(
        re.compile(r"launched\s+Slurm job 4242: running$")
    )


def _status_cell(http: httpx.Client, project_id: str, tid: str) -> str:
    """The text of the task's status cell in the project's experiments table."""
    answer = http.get(f"/projects/{project_id}")
    assert answer.status_code == 200, answer.text
    row = re.search(
        rf'<tr class="task-row" data-task-id="{tid}".*?<td>(<span class="status .*?)</td>',
        answer.text,
        re.S,
    )
    assert row is not None, answer.text
    return re.sub(r"<[^>]+>", "", row.group(1)).strip()


def test_the_experiments_table_says_a_running_task_waits_in_its_scheduler(
    http: httpx.Client,
) -> None:
    worker, tid = _launched(http, f"gpu-{uuid.uuid4().hex[:6]}", "waiting")
    project_id = http.get(f"/api/v1/tasks/{tid}").json()["project"]["id"]
    assert _status_cell(http, project_id, tid) == "Running · pending in Slurm"
    _launch(http, tid, worker, "RUNNING", "")
    assert _status_cell(http, project_id, tid) == "Running"

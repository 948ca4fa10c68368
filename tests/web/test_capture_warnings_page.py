"""What a run could not record shows in a real browser: a warning mark in the experiment's
header, the list (what, why, when; escaped) on its Info tab, also for a real run whose hooks
were broken (tests/sdk/capture/faulty_hooks.py), and a diff that could not be recorded on its
Execution tab, said so instead of an empty diff."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.scripts import script_env, unique, write_script
from tests.sdk.capture import faulty_hooks
from tests.services import ServerProcess

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_capture_warnings_show_in_the_header_and_the_info_tab(
    page: Page, http: httpx.Client
) -> None:
    project = f"capture-{uuid.uuid4().hex[:8]}"
    task = http.post("/api/v1/tasks", json={"name": "half-recorded", "project": project}).json()
    answer = http.post(
        f"/api/v1/tasks/{task['id']}/capture-warnings",
        json={"warnings": [
            {"what": "the argparse arguments", "reason": f"TypeError: {HOSTILE}", "time": 1.7e9},
            {"what": HOSTILE, "reason": "git diff timed out after 30 s"},
        ]},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text

    page.goto(f"/experiments/{task['id']}/execution")
    mark = page.locator(".experiment-head .capture-warning")
    expect(mark).to_have_text("⚠ 2 capture warnings")
    mark.click()
    expect(page).to_have_url(f"{page.url.split('#')[0].split('/experiments/')[0]}"
                             f"/experiments/{task['id']}/info#capture-warnings-title")  # fmt: skip
    rows = page.locator(".capture-warnings tr.capture-warning-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("the argparse arguments")
    expect(rows.nth(0)).to_contain_text(f"TypeError: {HOSTILE}")  # shown as text, not run
    expect(rows.nth(0)).to_contain_text("2023-11-14")  # when: 1.7e9
    expect(rows.nth(1).locator("td").first).to_have_text(HOSTILE)
    expect(page.locator(".capture-warnings img")).to_have_count(0)

    http.post(f"/api/v1/tasks/{task['id']}/reset")
    page.goto(f"/experiments/{task['id']}/info")
    expect(page.locator(".capture-warnings")).to_have_count(0)
    expect(page.locator(".experiment-head .capture-warning")).to_have_count(0)


def test_a_diff_that_could_not_be_recorded_says_why(page: Page, http: httpx.Client) -> None:
    project = f"capture-{uuid.uuid4().hex[:8]}"
    execution = {"diff": "", "diff_error": "git diff timed out after 30 s", "commit": "ab" * 20}
    task = http.post(
        "/api/v1/tasks", json={"name": "no-diff", "project": project, "execution": execution}
    ).json()
    assert task["execution"]["diff_error"] == "git diff timed out after 30 s"
    page.goto(f"/experiments/{task['id']}/execution")
    expect(page.locator(".diff-error")).to_have_text(
        "The uncommitted changes could not be recorded: git diff timed out after 30 s"
    )
    expect(page.get_by_text("No uncommitted changes.")).to_have_count(0)

    # Editing the diff accepts it: the message goes, the edited diff is the one to run.
    edited = http.patch(f"/api/v1/tasks/{task['id']}", json={"execution": {"diff": ""}})
    assert edited.json()["execution"]["diff_error"] == ""
    page.goto(f"/experiments/{task['id']}/execution")
    expect(page.locator(".diff-error")).to_have_count(0)
    expect(page.get_by_text("No uncommitted changes.")).to_be_visible()


def test_a_run_with_broken_hooks_lists_them_on_its_info_tab(
    page: Page, server: ServerProcess, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path / "code",
        f"""
        import click
        from tunelab import Task

        @click.command()
        @click.option("--epochs", type=int, default=2)
        def main(epochs):
            task = Task.init(project_name="{unique("capture-page")}", task_name="broken")
            print("TASK", task.id)

        main()
        """,
    )
    run = subprocess.run(
        [sys.executable, faulty_hooks.__file__, "--broken", str(script)],
        cwd=script.parent, env=script_env(server.url, tmp_path / "home"),
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    task_id = next(x for x in run.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    page.goto(f"/experiments/{task_id}/info")
    expect(page.locator(".experiment-head .capture-warning")).to_contain_text("capture warning")
    rows = page.locator(".capture-warnings tr.capture-warning-row")
    expect(rows.filter(has_text="the click arguments")).to_contain_text(faulty_hooks.FAULT)
    expect(rows.filter(has_text="the console output")).to_have_count(1)

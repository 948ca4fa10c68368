"""Results back to git on the experiment page, in a real browser: results that were not
pushed show in the header and on the Info tab with the reason and a Retry button; Retry and
Create branch post to the server, which answers with a toast."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Page, expect


def _ok(answer: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert answer.status_code in (200, 201), answer.text
    return answer.json()  # type: ignore[no-any-return]


def _unpushed_git_run(http: httpx.Client) -> dict:  # type: ignore[type-arg]
    """A completed git run whose results the server could not push: its project is linked
    to no repository."""
    project = f"git-results-{uuid.uuid4().hex[:8]}"
    body = {
        "name": "lr run",
        "project": project,
        "execution": {"repository": "https://git.example.com/team/x.git", "commit": "ab" * 20},
        "git_run": {"script": "python train.py", "branch": "exp-lr", "base_branch": "main",
                    "pull_request": True, "commit_message": "Try lr"},
    }  # fmt: skip
    task = _ok(http.post("/api/v1/tasks", json=body))
    worker = f"w-{uuid.uuid4().hex[:6]}"
    _ok(http.post("/api/v1/workers", json={"id": worker, "queues": ["default"]}))
    _ok(http.post(f"/api/v1/tasks/{task['id']}/start", json={"worker": worker}))
    results = _ok(http.post(f"/api/v1/tasks/{task['id']}/git-results", json={"commit": "cd" * 20}))
    assert results["state"] == "failed", results
    _ok(http.patch(f"/api/v1/tasks/{task['id']}", json={"status": "completed"}))
    return task


def test_results_not_pushed_show_with_retry_and_create_branch(
    page: Page, http: httpx.Client, allowed_console_errors: list[str]
) -> None:
    allowed_console_errors.extend([r"status of 409", r"Error Code 409"])
    task = _unpushed_git_run(http)
    page.goto(f"/experiments/{task['id']}/execution")
    mark = page.locator(".experiment-head .git-results-warning")
    expect(mark).to_have_text("⚠ results not pushed")
    mark.click()
    panel = page.locator("section.git-results")
    expect(panel.locator(".git-results-error")).to_have_text(
        f"results not pushed: project {task['project']['name']!r} is linked to no repository"
        " to push to"
    )

    panel.get_by_role("button", name="Retry").click()
    expect(page.locator(".toast-error")).to_contain_text("results not pushed: project")

    panel.locator("summary", has_text="Create branch").click()
    panel.get_by_label("Branch name").fill("exp/keep")
    expect(panel.get_by_label("Open a pull request")).to_be_checked()
    panel.get_by_role("button", name="Create branch").click()
    expect(page.locator(".toast-error").last).to_contain_text("is linked to no repository")

"""A task with a failed upload says so in a real browser: a warning in its header and in the
experiments table, and the file, the reason and how to retry it on the Artifacts tab."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Page, expect


def _task_with_a_failed_upload(http: httpx.Client) -> tuple[str, str]:
    project = f"uploads-{uuid.uuid4().hex[:8]}"
    task = http.post("/api/v1/tasks", json={"name": "lost-files", "project": project}).json()
    answer = http.post(
        f"/api/v1/tasks/{task['id']}/upload_failures",
        json={
            "kind": "artifact",
            "name": "features",
            "reason": "ModuleNotFoundError: No module named 's3fs'",
            "path": "/home/me/.tunelab/failed-uploads/features.parquet",
            "host": "gpu-3",
            "uri": "s3://bucket/runs/features.parquet",
            "record": {"type": "dataframe", "format": "parquet"},
        },
    )
    assert answer.status_code == 200, answer.text
    return task["id"], task["project"]["id"]


def test_a_failed_upload_shows_in_the_header_the_table_and_the_artifacts_tab(
    page: Page, http: httpx.Client
) -> None:
    task_id, project_id = _task_with_a_failed_upload(http)
    page.goto(f"/experiments/{task_id}/execution")
    warning = page.locator(".experiment-head .upload-warning")
    expect(warning).to_have_text("⚠ 1 upload failed")
    warning.click()
    expect(page).to_have_url(
        f"{page.url.split('/experiments/')[0]}/experiments/{task_id}/artifacts#upload-failures-title"
    )
    row = page.locator(".upload-failures tr.upload-failure[data-name='features']")
    expect(row).to_contain_text("No module named 's3fs'")
    expect(row).to_contain_text("gpu-3")
    expect(page.locator(".upload-failures")).to_contain_text(
        f"tunelab task retry-uploads {task_id}"
    )

    page.goto(f"/projects/{project_id}")
    icon = page.locator(f"tr.task-row[data-task-id='{task_id}'] .upload-warning")
    expect(icon).to_have_attribute("title", "1 upload failed")

    cleared = http.delete(f"/api/v1/tasks/{task_id}/upload_failures/artifact/features")
    assert cleared.json() == {"cleared": True}
    page.goto(f"/experiments/{task_id}/artifacts")
    expect(page.locator(".upload-failures")).to_have_count(0)
    expect(page.locator(".experiment-head .upload-warning")).to_have_count(0)

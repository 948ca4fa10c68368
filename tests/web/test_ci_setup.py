"""The CI setup wizard in a real Chromium against the session's server: reached from the
project's Repository settings; changing a field writes the files on the right again (htmx);
the tabs switch between GitHub Actions and GitLab CI; Copy to clipboard copies the file
shown; Save keeps the fields for the project."""

from __future__ import annotations

import uuid

import httpx
import yaml  # type: ignore[import-untyped]
from playwright.sync_api import Page, expect

from tests.services import ServerProcess
from tests.web.conftest import screenshot


def _project(http: httpx.Client) -> str:
    name = f"ci-wizard-{uuid.uuid4().hex[:8]}"
    project = http.post("/api/v1/projects", json={"name": name})
    assert project.status_code == 201, project.text
    project_id: str = project.json()["id"]
    link = {"url": "https://git.example.com/team/model.git", "default_branch": "main"}
    answer = http.put(f"/api/v1/projects/{project_id}/repository", json=link)
    assert answer.status_code == 200, answer.text
    return project_id


def test_fields_rewrite_the_workflow_and_copy_copies_it(
    page: Page, http: httpx.Client, server: ServerProcess
) -> None:
    project_id = _project(http)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.goto(f"/projects/{project_id}/repository")
    page.click("a.repo-ci")
    expect(page).to_have_url(f"{server.url}/projects/{project_id}/ci")

    github = page.locator("#ci-github-text")
    expect(github).to_contain_text("runs-on: ubuntu-latest")
    before = github.text_content()

    # The cloud's fields show with a cloud runner only.
    expect(page.locator("#ci-region")).to_be_hidden()
    page.check("input[name=runner][value=self-hosted]")
    page.fill("#ci-labels", 'gpu-box\nit\'s: "big"')
    expect(github).to_contain_text("- gpu-box")
    after = github.text_content() or ""
    assert after != before
    assert yaml.safe_load(after)["jobs"]["run-task"]["runs-on"] == [
        "self-hosted",
        "gpu-box",
        'it\'s: "big"',
    ]

    page.fill("#ci-package", "https://tunelab.example/wheels/tunelab-0.1.0-py3-none-any.whl")
    expect(github).to_contain_text("TUNELAB_PACKAGE: https://tunelab.example/wheels/")

    # A bad field says why in place of the files; fixing it brings them back.
    page.fill("#ci-package", "--index-url=x")
    expect(page.locator(".ci-error")).to_contain_text("package")
    page.fill("#ci-package", "tunelab")
    expect(github).to_contain_text("TUNELAB_PACKAGE: tunelab")

    page.click(".ci-tab[data-ci-tab=gitlab]")
    gitlab = page.locator("#ci-gitlab-text")
    expect(gitlab).to_be_visible()
    expect(github).to_be_hidden()
    expect(gitlab).to_contain_text("tunelab-run-task:")
    # The chosen tab stays chosen when a change writes the files again.
    page.check("input[name=runner][value=cloud]")
    page.fill("#ci-region", "eu-west")
    expect(gitlab).to_contain_text("CML_CLOUD_REGION: eu-west")
    expect(page.locator("#ci-gitlab-text")).to_be_visible()
    page.check("input[name=spot]")
    expect(gitlab).to_contain_text("--cloud-spot")
    page.uncheck("input[name=spot]")
    expect(gitlab).not_to_contain_text("--cloud-spot")

    copy = page.locator(".ci-file[data-ci-file=gitlab] .ci-copy")
    expect(copy).to_have_text("Copy to clipboard")
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#ci-gitlab-text").text_content()
    assert "cml runner launch" in copied

    page.click("button.ci-save")
    expect(page.locator("#ci-gitlab-text")).to_contain_text("CML_CLOUD_REGION: eu-west")
    screenshot(page, "ci-setup")
    saved = http.get(f"/api/v1/projects/{project_id}/ci-settings").json()
    assert saved["saved"] is True
    assert saved["settings"]["runner"] == "cloud"
    assert saved["settings"]["region"] == "eu-west"
    assert saved["settings"]["labels"] == ["gpu-box", 'it\'s: "big"']

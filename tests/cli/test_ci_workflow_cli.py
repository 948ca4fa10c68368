"""``tunelab project ci-workflow`` against the real server: the file the CI setup page shows,
from a project's saved settings and the options given, saved with ``--save``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from tests.cli.test_task_lifecycle_cli import failed, tunelab
from tests.gitrepo import isolate_git, new_repo
from tests.scripts import unique
from tunelab.sdk.transport import ApiClient


def test_print_and_save_a_projects_ci_workflow(
    env: dict[str, str], client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = new_repo(tmp_path / "repo", {"train.py": "print(1)\n"})
    name = unique("cli-ci")
    project = client.create_project(name)
    client.link_repository(project["id"], {"url": str(repo), "default_branch": "main"})

    # Without a project: the defaults, no server needed.
    hosted = tunelab(env, "project", "ci-workflow")
    assert hosted.returncode == 0, hosted.stderr
    assert yaml.safe_load(hosted.stdout)["jobs"]["run-task"]["runs-on"] == "ubuntu-latest"

    saved = tunelab(
        env, "project", "ci-workflow", "--project", name, "--runner", "self-hosted",
        "--label", "gpu", "--label", "big: disk", "--workflow-file", "train.yml", "--save",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    workflow = yaml.safe_load(saved.stdout)
    assert workflow["jobs"]["run-task"]["runs-on"] == ["self-hosted", "gpu", "big: disk"]
    stored = client.get_ci_settings(project["id"])
    assert stored["saved"] and stored["settings"]["workflow_file"] == "train.yml"

    # Later calls start from the saved settings.
    gitlab = tunelab(env, "project", "ci-workflow", "--project", name, "--forge", "gitlab")
    assert gitlab.returncode == 0, gitlab.stderr
    assert yaml.safe_load(gitlab.stdout)["tunelab-run-task"]["tags"] == ["gpu", "big: disk"]

    failed(tunelab(env, "project", "ci-workflow", "--label", "a$b"), "labels")
    failed(tunelab(env, "project", "ci-workflow", "--save"), "--save needs --project")

"""``tunelab project link-repo / show-repo / unlink-repo`` against the real server, with a
repository on the server's disk (a server without login serves local files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_task_lifecycle_cli import failed, succeeded, tunelab
from tests.gitrepo import isolate_git, new_repo
from tests.scripts import unique
from tunelab.sdk.transport import ApiClient


def test_link_show_and_unlink_a_repository(
    env: dict[str, str], client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path)
    repo = new_repo(tmp_path / "repo", {"params.yaml": "lr: 0.1\n"})
    name = unique("cli-repo")
    project = client.create_project(name)

    linked = tunelab(
        env, "project", "link-repo", name, str(repo), "--branch", "main",
        "--metrics-file", "eval/scores.json",
    )  # fmt: skip
    assert succeeded(linked) == f"{name} linked to {repo} (branch main)"
    assert client.get_repository(project["id"])["metrics_files"] == ["eval/scores.json"]
    shown = tunelab(env, "project", "show-repo", name)
    assert shown.returncode == 0, shown.stderr
    assert f"url:            {repo}" in shown.stdout and "eval/scores.json" in shown.stdout

    failed(tunelab(env, "project", "link-repo", name, "--upload-pack=x"), "URL")
    failed(tunelab(env, "project", "link-repo", name, str(repo), "--branch", "a..b"), "branch")
    assert succeeded(tunelab(env, "project", "unlink-repo", name)).endswith("no repository now")
    failed(tunelab(env, "project", "show-repo", name), "linked to no repository")
    failed(tunelab(env, "project", "show-repo", unique("missing")), "no project named")

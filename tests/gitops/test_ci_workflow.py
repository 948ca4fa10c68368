"""The CI files the wizard writes: GitHub Actions workflows that actionlint accepts for each
kind of runner (hostile label and script text included), GitLab CI jobs that parse, text
kept exactly as typed, and no typed text inside a ``${{ }}`` expression."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunelab.errors import InvalidInput
from tunelab.gitops.ci_settings import CiSettings
from tunelab.gitops.ci_workflow import github_workflow, gitlab_ci

ACTIONLINT = Path(sys.executable).parent / "actionlint"
HOSTILE_LABEL = 'gpu: "big" # not a comment\' &anchor *alias [x] {y} |'
HOSTILE_SCRIPT = (
    "echo ${{ secrets.TUNELAB_API_KEY }} \"$HOME\" 'quoted' # tail\n"
    'tunelab agent execute --id "$TUNELAB_TASK_ID"\n'
)

SETTINGS = {
    "self-hosted": {"runner": "self-hosted", "labels": ["linux", "a100"]},
    "hosted": {"runner": "hosted"},
    "gpu-cloud": {
        "runner": "cloud",
        "cloud": "gcp",
        "region": "us-central1",
        "instance_type": "n1-standard-8",
        "gpu": "nvidia-tesla-t4",
        "spot": True,
        "disk_size": 200,
        "reuse": False,
        "labels": ["tunelab-gpu"],
    },
    "hostile": {"runner": "self-hosted", "labels": [HOSTILE_LABEL], "script": HOSTILE_SCRIPT},
}


def lint(tmp_path: Path, text: str, labels: tuple[str, ...]) -> None:
    """actionlint on the file as GitHub would find it, told the self-hosted labels (as its
    users do in .github/actionlint.yaml)."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "tunelab.yml").write_text(text)
    # actionlint reads these as glob patterns: the labels' own *, ?, [ ] and { } escaped.
    patterns = [re.sub(r"([*?\[\]{}\\])", r"\\\1", label) for label in labels]
    config = {"self-hosted-runner": {"labels": patterns}}
    (tmp_path / ".github" / "actionlint.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [
            str(ACTIONLINT),
            "-no-color",
            "-config-file",
            ".github/actionlint.yaml",
            ".github/workflows/tunelab.yml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr + "\n" + text


@pytest.mark.parametrize("name", list(SETTINGS))
def test_github_workflow_passes_actionlint(tmp_path: Path, name: str) -> None:
    settings = CiSettings.from_dict(SETTINGS[name])
    lint(tmp_path, github_workflow(settings), settings.labels)


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check above can fail: a job step without run or uses, an unknown expression."""
    text = github_workflow(CiSettings()).replace("uses: actions/checkout@v4", "nothing: here")
    with pytest.raises(AssertionError):
        lint(tmp_path, text, ())


def _steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return steps


def test_github_job_shape() -> None:
    hosted = yaml.safe_load(github_workflow(CiSettings()))
    triggers = hosted["on"]
    assert triggers["workflow_dispatch"]["inputs"]["task_id"]["type"] == "string"
    assert triggers["push"]["branches"] == ["tunelab/**"]
    job = hosted["jobs"]["run-task"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["env"]["TUNELAB_TASK_ID"] == "${{ inputs.task_id }}"
    assert job["env"]["TUNELAB_API_URL"] == "${{ secrets.TUNELAB_API_URL }}"
    assert job["env"]["TUNELAB_API_TOKEN"] == "${{ secrets.TUNELAB_API_KEY }}"
    uses = [s["uses"] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout@v4", "actions/setup-python@v5"]
    install = next(s for s in job["steps"] if s.get("name") == "Install Tunelab")
    assert install["env"]["TUNELAB_PACKAGE"] == "tunelab"
    assert 'tunelab agent execute --id "$TUNELAB_TASK_ID"' in job["steps"][-1]["run"]
    # No expression in any script: the task id and every value reach the shell as variables.
    for step in job["steps"]:
        assert "${{" not in step.get("run", "")

    custom = CiSettings.from_dict(
        {"runner": "self-hosted", "labels": "gpu, big", "package": "https://t.example/tl.whl"}
    )
    workflow = yaml.safe_load(github_workflow(custom))
    assert workflow["jobs"]["run-task"]["runs-on"] == ["self-hosted", "gpu", "big"]
    assert "deploy-runner" not in workflow["jobs"]
    install = next(s for s in _steps(workflow, "run-task") if s.get("name") == "Install Tunelab")
    assert install["env"]["TUNELAB_PACKAGE"] == "https://t.example/tl.whl"


def test_cloud_runner_is_launched_by_cml_with_the_fields() -> None:
    settings = CiSettings.from_dict(SETTINGS["gpu-cloud"])
    workflow = yaml.safe_load(github_workflow(settings))
    deploy = workflow["jobs"]["deploy-runner"]
    launch = deploy["steps"][1]
    assert deploy["steps"][0] == {"uses": "iterative/setup-cml@v2"}
    assert launch["env"]["CML_CLOUD"] == "gcp"
    assert launch["env"]["CML_CLOUD_REGION"] == "us-central1"
    assert launch["env"]["CML_CLOUD_TYPE"] == "n1-standard-8"
    assert launch["env"]["CML_CLOUD_GPU"] == "nvidia-tesla-t4"
    assert launch["env"]["CML_CLOUD_HDD_SIZE"] == "200"
    assert launch["env"]["CML_LABELS"] == "tunelab-gpu"
    assert launch["env"]["GOOGLE_APPLICATION_CREDENTIALS_DATA"] == (
        "${{ secrets.GOOGLE_APPLICATION_CREDENTIALS_DATA }}"
    )
    flags = launch["run"].split()
    assert "--cloud-spot" in flags and "--single" in flags and "--reuse" not in flags
    run = workflow["jobs"]["run-task"]
    assert run["needs"] == "deploy-runner"
    assert run["runs-on"] == ["self-hosted", "tunelab-gpu"]

    reused = yaml.safe_load(github_workflow(CiSettings.from_dict({"runner": "cloud"})))
    flags = reused["jobs"]["deploy-runner"]["steps"][1]["run"].split()
    assert "--reuse" in flags and "--reuse-idle" in flags and "--cloud-gpu" not in " ".join(flags)


def test_hostile_text_is_kept_exactly_and_never_evaluated() -> None:
    settings = CiSettings.from_dict(SETTINGS["hostile"])
    workflow = yaml.safe_load(github_workflow(settings))
    job = workflow["jobs"]["run-task"]
    assert job["runs-on"] == ["self-hosted", HOSTILE_LABEL]
    script = job["steps"][-1]["run"]
    # The typed ${{ is written as an expression whose value is the text "${{".
    assert script.startswith("echo ${{ '${{' }} secrets.TUNELAB_API_KEY }}")
    assert re.sub(r"\$\{\{ '\$\{\{' \}\}", "${{", script) == HOSTILE_SCRIPT
    gitlab = yaml.safe_load(gitlab_ci(settings))
    assert gitlab["tunelab-run-task"]["tags"] == [HOSTILE_LABEL]
    assert gitlab["tunelab-run-task"]["script"][-1] == HOSTILE_SCRIPT


def test_gitlab_jobs_parse_and_run_only_when_started_by_tunelab() -> None:
    for values in SETTINGS.values():
        settings = CiSettings.from_dict(values)
        config = yaml.safe_load(gitlab_ci(settings))
        job = config["tunelab-run-task"]
        assert job["image"] == "python:3.12"
        assert job["rules"][0] == {"if": "$task_id"}
        assert "Tunelab-Task" in job["rules"][1]["if"]
        assert job["variables"]["TUNELAB_API_TOKEN"] == "$TUNELAB_API_KEY"
        assert job["script"][0] == 'python -m pip install "$TUNELAB_PACKAGE"'
        assert 'TUNELAB_TASK_ID="${task_id:-}"' in job["script"][1]
        assert job["script"][-1] == settings.script + "\n"
        if settings.runner == "hosted":
            assert "tags" not in job
        else:
            assert job["tags"] == list(settings.labels)
        if settings.runner == "cloud":
            assert job["needs"] == ["deploy-runner"]
            assert "cml runner launch" in config["deploy-runner"]["script"][0]
            assert config["deploy-runner"]["stage"] == ".pre" and "stages" not in config
        else:
            assert "deploy-runner" not in config


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"labels": ["a,b", "c$HOME"]}, "labels"),
        ({"labels": ["x\ny\u0007"]}, "labels"),
        ({"labels": ["self-hosted"]}, "labels"),
        ({"package": "--index-url=https://evil"}, "package"),
        ({"package": "tunelab $(id)"}, "package"),
        ({"region": "us-west; rm -rf /"}, "region"),
        ({"gpu": "${{ secrets.X }}"}, "gpu"),
        ({"runner": "mainframe"}, "runner"),
        ({"disk_size": 0}, "disk_size"),
        ({"workflow_file": "../x.yml"}, "workflow_file"),
        ({"python_version": "3.12; id"}, "python_version"),
        ({"script": "  "}, "script"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(values: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        CiSettings.from_dict(values)
    assert refused.value.detail == {"key": key}


def test_settings_round_trip() -> None:
    settings = CiSettings.from_dict(SETTINGS["gpu-cloud"])
    assert CiSettings.from_dict(settings.to_dict()) == settings
    assert CiSettings.from_dict({"spot": "on", "reuse": ""}).spot is True
    assert CiSettings.from_dict({"spot": "on", "reuse": ""}).reuse is False

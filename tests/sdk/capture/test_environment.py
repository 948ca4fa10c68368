"""Which environment variables a run records, and who decides: config or TUNELAB_LOG_ENVIRONMENT."""

from __future__ import annotations

import os

import pytest

from tunelab.domain.task import Parameter
from tunelab.sdk.capture import capture_environment, environment_patterns

ENVIRON = {
    "AWS_REGION": "eu-west-1",
    "AWS_PROFILE": "ml",
    "CUDA_VERSION": "12.4",
    "PYTHON_VERSION": "3.11",
    "HOME": "/home/me",
    "aws_lower": "x",
}


def names(patterns: list[str]) -> list[str]:
    return [p.name for p in capture_environment(patterns, ENVIRON)]


def test_exact_names_prefixes_and_suffixes() -> None:
    assert names(["HOME"]) == ["HOME"]
    assert names(["AWS_*"]) == ["AWS_PROFILE", "AWS_REGION"]
    assert names(["*_VERSION"]) == ["CUDA_VERSION", "PYTHON_VERSION"]
    assert names(["AWS_*", "HOME", "AWS_REGION"]) == ["AWS_PROFILE", "AWS_REGION", "HOME"]
    assert names(["*"]) == sorted(ENVIRON)
    assert names(["MISSING", ""]) == []
    assert names([]) == []


def test_variables_become_environment_parameters() -> None:
    assert capture_environment(["CUDA_VERSION"], ENVIRON) == [
        Parameter(section="Environment", name="CUDA_VERSION", value="12.4", type="str")
    ]


def test_config_patterns_apply_without_the_variable() -> None:
    assert environment_patterns(["AWS_*", " HOME "], {}) == ["AWS_*", "HOME"]


def test_tunelab_log_environment_overrides_the_config() -> None:
    environ = {"TUNELAB_LOG_ENVIRONMENT": "CUDA_VERSION, PYTHON_*,"}

    assert environment_patterns(["AWS_*"], environ) == ["CUDA_VERSION", "PYTHON_*"]


def test_tunelab_log_environment_set_empty_records_nothing() -> None:
    assert environment_patterns(["AWS_*"], {"TUNELAB_LOG_ENVIRONMENT": ""}) == []


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELAB_LOG_ENVIRONMENT", "TL_TEST_*")
    monkeypatch.setenv("TL_TEST_SEED", "7")

    captured = capture_environment(environment_patterns(["HOME"]))

    assert [(p.name, p.value) for p in captured] == [("TL_TEST_SEED", "7")]
    assert os.environ["TL_TEST_SEED"] == "7"

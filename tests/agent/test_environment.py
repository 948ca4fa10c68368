"""EnvironmentBuilder building real environments with uv (packages come from uv's cache or
the package registry), reusing them, and giving them the agent's own Tunelab SDK."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import tunelab
from tunelab.agent import AgentError
from tunelab.agent.environment import (
    READY_MARKER,
    EnvironmentBuilder,
    normalized_requirements,
    sdk_package_dir,
)


def run_in(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envs")


@pytest.fixture(scope="module")
def six_env(cache: Path) -> tuple[Path, list[str]]:
    lines: list[str] = []
    python = EnvironmentBuilder(cache).build("six==1.16.0\n", lines.append)
    return python, lines


def test_a_built_environment_holds_the_requirements_and_the_agents_sdk(
    six_env: tuple[Path, list[str]],
) -> None:
    python, lines = six_env
    assert run_in(python, "import six; print(six.__version__)") == "1.16.0"
    probe = (
        "import os, tunelab, yaml, httpx; "
        "print(tunelab.__version__, os.path.realpath(tunelab.__file__))"
    )
    version, location = run_in(python, probe).split(" ", 1)
    assert version == tunelab.__version__
    assert Path(location) == sdk_package_dir() / "__init__.py"
    # The task's environment is not the agent's: no server dependencies leak in.
    assert run_in(python, "import importlib.util as u; print(u.find_spec('sqlalchemy'))") == "None"
    # The build's progress, as the task's console shows it.
    assert any("building a new environment with uv" in line for line in lines)
    assert any("six==1.16.0" in line for line in lines)
    assert any("environment ready" in line for line in lines)


def test_the_same_requirements_reuse_the_environment_at_once(
    cache: Path, six_env: tuple[Path, list[str]]
) -> None:
    python, _ = six_env
    lines: list[str] = []
    started = time.perf_counter()
    # Order, blanks, comments and a `tunelab` line do not make a new environment.
    again = EnvironmentBuilder(cache).build(
        "# pinned\n\ntunelab==0.1.0\n  six==1.16.0  # the only one\n", lines.append
    )
    assert time.perf_counter() - started < 1.0
    assert again == python
    assert lines == [f"tunelab agent: reusing the cached environment {python.parent.parent}"]


def test_different_requirements_make_a_different_environment(
    cache: Path, six_env: tuple[Path, list[str]]
) -> None:
    python, _ = six_env
    other = EnvironmentBuilder(cache).build("six==1.15.0\n", lambda line: None)
    assert other != python
    assert run_in(other, "import six; print(six.__version__)") == "1.15.0"
    assert run_in(python, "import six; print(six.__version__)") == "1.16.0"


def test_a_half_built_environment_is_never_reused(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(tmp_path)
    env_dir = tmp_path / builder.key("")[:24]
    (env_dir / "bin").mkdir(parents=True)  # what a crash mid-build leaves: no marker
    python = builder.build("", lambda line: None)
    assert (env_dir / READY_MARKER).is_file()
    assert run_in(python, "import tunelab, httpx; print('ok')") == "ok"


def test_a_failing_requirement_raises_with_the_installers_message(tmp_path: Path) -> None:
    lines: list[str] = []
    missing = tmp_path / "nowhere" / "pkg-1.0-py3-none-any.whl"
    with pytest.raises(AgentError) as caught:
        EnvironmentBuilder(tmp_path / "envs").build(f"pkg @ file://{missing}\n", lines.append)
    assert "uv pip install failed" in caught.value.message
    assert str(missing) in caught.value.message  # uv's own words name the file
    assert [p.name for p in (tmp_path / "envs").iterdir() if not p.name.endswith(".lock")] == []


def test_requirements_are_normalized_for_the_cache_key() -> None:
    text = "PyYAML==6.0.2\n# c\nsix==1.16.0 # pin\n\nTunelab[server]>=0.1\nsix==1.16.0\n"
    assert normalized_requirements(text) == ["PyYAML==6.0.2", "six==1.16.0"]


@pytest.mark.slow
def test_pip_builds_an_equivalent_environment(tmp_path: Path) -> None:
    lines: list[str] = []
    python = EnvironmentBuilder(tmp_path, installer="pip").build("six==1.16.0\n", lines.append)
    assert run_in(python, "import six, tunelab; print(six.__version__, tunelab.__version__)") == (
        f"1.16.0 {tunelab.__version__}"
    )
    assert any("building a new environment with pip" in line for line in lines)


def test_the_sdk_needs_come_from_its_metadata_and_the_destination_adds_its_back_end() -> None:
    import importlib.metadata

    from tunelab.agent.environment import sdk_requirements

    def names(pins: list[str]) -> list[str]:
        return [pin.split("==")[0] for pin in pins]

    declared = importlib.metadata.requires("tunelab") or []
    runtime = sorted(d.split(">")[0].split("=")[0] for d in declared if ";" not in d)
    assert names(sdk_requirements([])) == runtime  # httpx, click, PyYAML, fsspec...
    assert "fsspec" in names(sdk_requirements([]))
    assert "s3fs" in names(sdk_requirements([], "s3://bucket/runs"))
    assert "gcsfs" in names(sdk_requirements([], "gs://bucket/runs"))
    assert "adlfs" in names(sdk_requirements([], "azure://acct.blob.core.windows.net/c/runs"))
    assert not {"s3fs", "gcsfs", "adlfs"} & set(names(sdk_requirements([], "tunelab://")))
    # Pinned as the agent has them, and the task's own line wins.
    assert f"fsspec=={importlib.metadata.version('fsspec')}" in sdk_requirements([])
    assert "fsspec" not in names(sdk_requirements(["fsspec==2024.6.1"]))
    # The destination is part of the cache key: a new back end is a new environment.
    builder = EnvironmentBuilder(Path("/nonexistent"))
    assert builder.key("six\n") != builder.key("six\n", "s3://bucket/runs")

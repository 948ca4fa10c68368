"""capture_requirements on a real project tree, against the packages installed in this venv."""

from __future__ import annotations

import importlib.metadata as metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunelab.sdk.capture import capture_requirements, packages


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def pinned(*names: str) -> str:
    return "".join(f"{name}=={metadata.version(name)}\n" for name in names)


def make_project(root: Path) -> Path:
    script = write(
        root / "train.py",
        "import os, json\n"
        "from pathlib import Path\n"
        "import yaml\n"
        "import helpers\n"
        "from models.net import build\n"
        "from . import sibling\n"
        "import tunelab\n"
        "import not_installed_anywhere\n"
        "def main():\n"
        "    try:\n"
        "        from click import echo\n"
        "    except ImportError:\n"
        "        pass\n",
    )
    write(root / "helpers.py", "import httpx.__version__\nimport collections.abc\n")
    write(root / "models" / "__init__.py", "")
    write(root / "models" / "net.py", "import yaml\n\ndef build(): ...\n")
    write(root / "broken.py", "def (:\n")
    # Other people's code in the tree must not count.
    write(root / ".venv" / "lib" / "site.py", "import numpy\n")
    write(root / "env" / "pyvenv.cfg", "home = /usr\n")
    write(root / "env" / "lib" / "x.py", "import fastapi\n")
    write(root / "node_modules" / "pkg" / "gen.py", "import sqlalchemy\n")
    write(root / "lib" / "site-packages" / "y.py", "import alembic\n")
    return script


def test_lists_the_imported_third_party_distributions_with_versions(tmp_path: Path) -> None:
    script = make_project(tmp_path / "project")

    assert capture_requirements(script, tmp_path / "project") == pinned("click", "httpx", "PyYAML")


def test_without_a_repository_the_script_folder_is_scanned(tmp_path: Path) -> None:
    script = make_project(tmp_path / "project")

    assert capture_requirements(script, None) == pinned("click", "httpx", "PyYAML")


def test_the_script_is_scanned_even_outside_the_repository_root(tmp_path: Path) -> None:
    make_project(tmp_path / "project")
    script = write(tmp_path / "elsewhere" / "run.py", "import click\nimport helpers\n")

    requirements = capture_requirements(script, tmp_path / "project")

    assert requirements == pinned("click", "httpx", "PyYAML")


def test_a_script_that_imports_nothing_local_needs_only_its_own_imports(tmp_path: Path) -> None:
    make_project(tmp_path / "project")  # helpers.py and models/ import httpx and yaml
    write(tmp_path / "project" / "src" / "tunelab" / "__init__.py", "")  # a checkout of the SDK
    script = write(tmp_path / "project" / "examples" / "lone.py", "import click, tunelab\n")

    assert capture_requirements(script, tmp_path / "project") == pinned("click")


def test_a_local_module_named_like_a_package_is_not_that_package(tmp_path: Path) -> None:
    script = write(tmp_path / "project" / "run.py", "import yaml\nimport click\nimport utils.io\n")
    write(tmp_path / "project" / "click.py", "import json\n")
    write(tmp_path / "project" / "utils" / "io.py", "import json\n")

    assert capture_requirements(script, tmp_path / "project") == pinned("PyYAML")


def test_full_freeze_lists_every_installed_distribution_but_tunelab(tmp_path: Path) -> None:
    script = write(tmp_path / "run.py", "import yaml\n")

    lines = capture_requirements(script, None, full_freeze=True).splitlines()

    installed = {d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
    names = [line.partition("==")[0] for line in lines]
    assert len(lines) == len(installed) - 1
    assert "tunelab" not in {n.lower() for n in names}
    assert f"PyYAML=={metadata.version('PyYAML')}" in lines
    assert f"httpx=={metadata.version('httpx')}" in lines
    assert names == sorted(names, key=lambda n: n.lower().replace("_", "-"))


# ----- what the user adds, pins or freezes (Task.add_requirements, force_..._env_freeze) ----


@pytest.fixture
def choices() -> Iterator[None]:
    """The process-wide choices start and end empty (they are made before Task.init)."""
    packages.clear_requirement_choices()
    yield
    packages.clear_requirement_choices()


def test_an_optional_engine_of_an_imported_package_is_recorded_when_installed(
    tmp_path: Path,
) -> None:
    # to_parquet needs pyarrow (installed here) or fastparquet (not installed): never imported.
    script = write(tmp_path / "train.py", "import pandas\npandas.DataFrame().to_parquet('x')\n")
    lines = capture_requirements(script, tmp_path).splitlines()
    assert f"pyarrow=={metadata.version('pyarrow')}" in lines
    assert not any(line.startswith("fastparquet") for line in lines)
    assert f"pandas=={metadata.version('pandas')}" in lines


def test_added_requirements_are_added_or_pinned(choices: None, tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", "import yaml\n")
    packages.add_requirements("httpx")  # the installed version
    packages.add_requirements("PyYAML", "6.0")  # pins what the analysis found
    packages.add_requirements("torchvision", ">=0.15")
    packages.add_requirements("not-installed-anywhere", "")  # any version
    listed = write(tmp_path / "extra.txt", "# tools\nrich>=13\n\nclick==8.1.0\n")
    packages.add_requirements(str(listed))
    assert capture_requirements(script, tmp_path).splitlines() == [
        "click==8.1.0",
        f"httpx=={metadata.version('httpx')}",
        "not-installed-anywhere",
        "PyYAML==6.0",
        "rich>=13",
        "torchvision>=0.15",
    ]


def test_a_forced_freeze_lists_the_environment_or_the_given_file(
    choices: None, tmp_path: Path
) -> None:
    script = write(tmp_path / "train.py", "import yaml\n")
    packages.force_requirements_env_freeze()
    frozen = capture_requirements(script, tmp_path)
    assert f"httpx=={metadata.version('httpx')}\n" in frozen  # installed, not imported
    packages.add_requirements("not-installed-anywhere", "1.0")
    given = write(tmp_path / "requirements.txt", "numpy==1.26.4\n# pinned by hand\n")
    packages.force_requirements_env_freeze(requirements_file=str(given))
    # The file as it is (its comments and options too), with the added packages after it.
    assert capture_requirements(script, tmp_path) == (
        "numpy==1.26.4\n# pinned by hand\nnot-installed-anywhere==1.0\n"
    )
    packages.force_requirements_env_freeze(False)
    assert capture_requirements(script, tmp_path) == (
        f"not-installed-anywhere==1.0\nPyYAML=={metadata.version('PyYAML')}\n"
    )


def test_a_runs_added_and_frozen_requirements_reach_its_task(api_url: str, tmp_path: Path) -> None:
    from tests.scripts import run_script, script_env, unique, write_script
    from tunelab.sdk.transport import ApiClient

    write(tmp_path / "code" / "pinned.txt", "numpy==1.26.4\n")
    script = write_script(
        tmp_path / "code",
        f"""
        from tunelab import Task
        Task.add_requirements("not-installed-anywhere", "1.0")
        Task.force_requirements_env_freeze(requirements_file="pinned.txt")
        task = Task.init(project_name="{unique("requirements")}", task_name="pinned")
        print("TASK", task.id)
        """,
    )
    result = run_script(script, script_env(api_url, tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    task_id = next(x for x in result.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    with ApiClient(api_url) as client:
        execution = client.get_task(task_id)["execution"]
    assert execution["requirements"] == "numpy==1.26.4\nnot-installed-anywhere==1.0\n"

"""capture_requirements on a real project tree, against the packages installed in this venv."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from tunelab.sdk.capture import capture_requirements


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

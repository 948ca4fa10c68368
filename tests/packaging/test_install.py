"""Installed as users install it: ``uv build`` makes an sdist and a wheel from it; the
wheel, installed with its ``server`` extra into a fresh venv (no checkout on the path),
runs ``tunelab server`` with its pages and migrations, and a training script records a
run with the SDK from that venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

SCRIPT = """
from tunelab import Task

task = Task.init(project_name="installed", task_name="from the wheel")
task.get_logger().report_scalar("loss", "train", 0.5, iteration=0)
"""


def _uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv")
    assert uv, "uv is needed to build and install the package"
    # Offline: from the local uv cache the development venv was installed from.
    done = subprocess.run(
        [uv, *args], cwd=cwd, capture_output=True, text=True, timeout=180, env=_clean_env()
    )
    assert done.returncode == 0, done.stderr
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    """No venv, no TUNELAB_* and no PYTHONPATH of the checkout's: only what a user has."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TUNELAB_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with the built wheel installed (``[server]``)."""
    work = tmp_path_factory.mktemp("install")
    _uv("build", "--offline", "--out-dir", str(work / "dist"), str(ROOT), cwd=work)
    (sdist,) = (work / "dist").glob("tunelab-*.tar.gz")
    (wheel,) = (work / "dist").glob("tunelab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "tunelab/server/web/templates/base.html",
        "tunelab/server/web/static/css/app.css",
        "tunelab/server/web/static/vendor/htmx/LICENSE",
        "tunelab/server/web/static/vendor/uplot/LICENSE",
        "tunelab/store/migrations/versions/0001_initial_schema.py",
    ):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n]
    assert sdist.stat().st_size < 5_000_000  # sources, not caches
    venv = work / "venv"
    _uv("venv", "--quiet", "--python", sys.executable, str(venv), cwd=work)
    python = venv / "bin" / "python"
    _uv("pip", "install", "--offline", "--python", str(python), f"{wheel}[server]", cwd=work)
    return venv / "bin"


@pytest.fixture(scope="module")
def server(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("installed-data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(installed / "tunelab"), "server", "--port", str(port), "--data-dir", str(data)]
    with open(data / "server.log", "wb") as log:
        proc = subprocess.Popen(
            command, cwd=data, env=_clean_env(), stdout=log, stderr=subprocess.STDOUT
        )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, (data / "server.log").read_text()
            try:
                return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=60, what="the installed server")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "python"), "-c", "import tunelab; print(tunelab.__file__)"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    where = Path(done.stdout.strip())
    assert installed.parent in where.parents and ROOT not in where.parents


def test_a_script_records_a_run_on_the_installed_server(
    installed: Path, server: str, tmp_path: Path
) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = _clean_env(TUNELAB_API_URL=server, HOME=str(tmp_path))
    done = subprocess.run(
        [str(installed / "python"), str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("Tunelab: task ")]
    page = line.rsplit(": ", 1)[1]
    assert page.startswith(f"{server}/experiments/")
    task_id = page.rsplit("/", 1)[1]
    task = httpx.get(f"{server}/api/v1/tasks/{task_id}").json()
    assert task["status"] == "completed" and task["name"] == "from the wheel"
    shown = httpx.get(page, follow_redirects=True)  # the packaged templates render it
    assert shown.status_code == 200 and "from the wheel" in shown.text
    assert httpx.get(f"{server}/static/vendor/htmx/LICENSE").status_code == 200

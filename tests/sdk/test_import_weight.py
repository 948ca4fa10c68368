"""``import tunelab`` and the SDK never load the server stack (training environments
install only the plain package)."""

from __future__ import annotations

import subprocess
import sys

SERVER_MODULES = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic", "numpy", "jinja2")


def test_the_sdk_does_not_import_the_server() -> None:
    code = (
        "import sys\n"
        "import tunelab\n"
        "from tunelab import Task, Logger\n"
        "import tunelab.sdk.task, tunelab.sdk.remote, tunelab.sdk.offline\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_MODULES!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_cli_help_does_not_import_the_server() -> None:
    code = (
        "import sys\n"
        "from tunelab.cli.main import cli\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_MODULES!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

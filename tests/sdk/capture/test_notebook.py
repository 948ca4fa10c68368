"""A run started in a real Jupyter kernel records the notebook's cells as a ``.py`` script
that runs under plain Python, as an agent would run a clone of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jupyter_client import manager

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.capture.notebook import export, notebook_script
from tunelab.sdk.transport import ApiClient


def _run_cell(kc: Any, code: str) -> None:
    reply = kc.execute_interactive(code, timeout=60, output_hook=lambda _msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def test_a_notebook_records_the_cells_run_so_far_as_a_script(api_url: str, tmp_path: Path) -> None:
    project = unique("notebook")
    env = script_env(api_url, tmp_path)
    env.pop("JPY_SESSION_NAME", None)  # no notebook file: the kernel's history is the code
    km, kc = manager.start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        _run_cell(kc, "import math\nvalue = math.sqrt(16)")
        _run_cell(
            kc,
            "from tunelab import Task\n"
            f"task = Task.init(project_name={project!r}, task_name='nb')\n"
            "task_id = task.id",
        )
        _run_cell(kc, "%time doubled = value * 2")
        _run_cell(kc, "doubled = value * 2")
        _run_cell(kc, "task.get_logger().report_scalar('seen', 'doubled', doubled, iteration=0)")
        _run_cell(kc, "task.close()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    with ApiClient(api_url) as client:
        task = client.get_task(client.list_tasks(project=project)["items"][0]["id"])
    execution = task["execution"]
    assert execution["repository"] == "" and execution["entry_point"] == "notebook.py"
    assert execution["working_dir"] == "."
    code = execution["diff"]
    for cell in ("value = math.sqrt(16)", "task = Task.init(", "task.close()"):
        assert cell in code
    # The cell after Task.init and the last one arrived too; the magic is commented out.
    assert "# get_ipython().run_line_magic('time', 'doubled = value * 2')" in code
    assert code.index("math.sqrt") < code.index("Task.init") < code.index("task.close()")

    # The export runs as a plain script, as an agent runs it.
    rerun = run_script(write_script(tmp_path / "rerun", code, "notebook.py"), env)
    assert rerun.returncode == 0, rerun.stderr


def test_a_notebook_file_found_is_exported_whole(tmp_path: Path) -> None:
    notebook = tmp_path / "explore.ipynb"
    cells = [
        {"cell_type": "markdown", "source": ["# Title"]},
        {"cell_type": "code", "source": ["import os\n", "!pip install nothing\n", "x = 1"]},
        {"cell_type": "code", "source": "print(x)"},
    ]
    notebook.write_text(json.dumps({"cells": cells, "nbformat": 4}))
    shell = SimpleNamespace(user_ns={"__vsc_ipynb_file__": str(notebook)})

    entry_point, code = notebook_script(shell)

    assert entry_point == "explore.py"
    assert "# Title" not in code and "import os\n# !pip install nothing\nx = 1" in code
    assert code.index("# In[1]:") < code.index("x = 1") < code.index("# In[2]:")
    compile(code, entry_point, "exec")


def test_export_of_no_cells_is_still_a_script() -> None:
    assert export([]) == "#!/usr/bin/env python\n# coding: utf-8\n"


def test_import_tunelab_does_not_import_ipython() -> None:
    # fmt: off
    probe = (
        "import sys, tunelab.sdk.task; print('IPython' in sys.modules, 'nbconvert' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]

"""A run started inside a Jupyter kernel: the notebook's code, exported as a ``.py`` script.

The code is the notebook file's code cells when the kernel knows its notebook (Jupyter Server
sets ``JPY_SESSION_NAME``; VS Code sets ``__vsc_ipynb_file__``), else the cells run so far
(the kernel's ``In[]`` history). Magics (``%time``, ``!pip``) are commented out so the
export runs under plain Python. The task records the export as a script recorded from no
repository (``script_text``), entry point ``<notebook>.py``, and an agent runs a clone of it
like any script. The export is sent again after each cell and when the run ends.

Nothing here imports IPython: it is looked up only when a kernel has loaded it already.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

DEFAULT_ENTRY_POINT = "notebook.py"
# IPython's own rewriting of a magic in the history: get_ipython().run_line_magic(...)
_IPYTHON_CALL = re.compile(r"^([ \t]*)(get_ipython\(\))", re.M)
_MAGIC_OR_SHELL = re.compile(r"^([ \t]*)([%!])", re.M)


def kernel_shell() -> Any | None:
    """The IPython shell of the Jupyter kernel this process is, or None (a plain script,
    a terminal IPython)."""
    if "ipykernel" not in sys.modules:
        return None
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell if getattr(shell, "kernel", None) is not None else None


def notebook_file(shell: Any) -> Path | None:
    """The ``.ipynb`` file the kernel runs, when the front end says which."""
    names = (os.environ.get("JPY_SESSION_NAME"), _user_ns(shell).get("__vsc_ipynb_file__"))
    for name in names:
        if isinstance(name, str) and name.endswith(".ipynb") and Path(name).is_file():
            return Path(name)
    return None


def notebook_script(shell: Any) -> tuple[str, str]:
    """``(entry point, script text)``: the notebook's code as a Python script."""
    path = notebook_file(shell)
    if path is not None:
        cells = _file_cells(path)
        if cells is not None:
            return f"{path.stem}.py", export(cells)
    return DEFAULT_ENTRY_POINT, export(history_cells(shell))


def history_cells(shell: Any) -> list[str]:
    """The cells run so far, in order (``In[1]``, ``In[2]``, ...)."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_parsed", None) or []
    return [str(cell) for cell in history[1:]]  # In[0] is always empty


def export(cells: list[str]) -> str:
    """Cells as one script, each under an ``# In[n]:`` header, magics commented out."""
    parts = ["#!/usr/bin/env python", "# coding: utf-8", ""]
    for number, cell in enumerate(cells, start=1):
        if not cell.strip():
            continue
        code = _MAGIC_OR_SHELL.sub(r"\1# \2", _IPYTHON_CALL.sub(r"\1# \2", cell.rstrip()))
        parts += [f"# In[{number}]:", "", "", code, "", ""]
    return "\n".join(parts).rstrip() + "\n"


def _file_cells(path: Path) -> list[str] | None:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    return [
        "".join(cell["source"]) if isinstance(cell.get("source"), list) else str(cell["source"])
        for cell in cells
        if isinstance(cell, dict) and cell.get("cell_type") == "code" and "source" in cell
    ]


def _user_ns(shell: Any) -> dict[str, Any]:
    namespace = getattr(shell, "user_ns", None)
    return namespace if isinstance(namespace, dict) else {}

"""Parameter files in a repository (``params.yaml``, ``config.json``, ``settings.toml``,
``hparams.py``): read into typed values, and written back with overrides applied while the
file keeps its format, comments and key order.

Example::

    from tunelab.params_files import read_params, flat_params, apply_overrides

    text = Path("params.yaml").read_text()
    flat_params("params.yaml", text)["train.lr"].value   # 0.1
    new_text = apply_overrides("params.yaml", text, {"train.lr": 0.01, "train.epochs": "20"})

Nested keys are joined with ``.`` (as DVC names them); a list is one value. Which files a
repository's parameters come from is ``params_sources`` (``dvc.yaml`` and a settings list).

The format libraries (ruamel.yaml, tomlkit) are imported when a file of theirs is read.
"""

from tunelab.params_files.files import (
    ParamValue,
    apply_overrides,
    flat_params,
    read_params,
    supported,
)
from tunelab.params_files.sources import DEFAULT_PARAMS_FILE, params_sources

__all__ = [
    "DEFAULT_PARAMS_FILE",
    "ParamValue",
    "apply_overrides",
    "flat_params",
    "params_sources",
    "read_params",
    "supported",
]

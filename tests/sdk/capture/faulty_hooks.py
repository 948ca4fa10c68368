"""Run a user's script with Tunelab's capture hooks broken from the outside.

``python faulty_hooks.py [--broken] SCRIPT ARGS...`` imports Tunelab, replaces each
``(module, attribute)`` of ``BROKEN`` with a function that raises, then runs SCRIPT as
``__main__`` with ARGS (``runpy``). Without ``--broken`` it runs SCRIPT the same way with
nothing broken: the run to compare with. Nothing in the product knows about this.

A framework's hook joins the proof by adding its capture function to ``HOOKS``, with the
``what`` of the warning it prints once broken::

    ("tunelab.sdk.capture.fire_args", "call_parameters"): "the Fire arguments",

``attribute`` may be ``Class.method``. Patch a name where the hook looks it up (a module
that did ``from x import f`` calls its own ``f``).
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from typing import Any, NoReturn

# (module, attribute) -> the capture warning's ``what`` once it is broken.
HOOKS: dict[tuple[str, str], str] = {
    ("tunelab.sdk.task_start", "argparse_parameters"): "the argparse arguments",
    ("tunelab.sdk.task_start", "click_parameters"): "the click arguments",
    ("tunelab.sdk.reporter", "Reporter.add_console"): "the console output",
    ("tunelab.sdk.task_start", "capture_source"): "the source code",
    ("tunelab.sdk.task_start", "capture_requirements"): "the installed packages",
    ("tunelab.sdk.model_capture", "_file_path"): "the model saved with joblib.dump",
    ("tunelab.sdk.task_outputs", "TaskOutputs._capture_model_file"): (
        "the model saved with joblib.dump"
    ),
    ("tunelab.sdk.run_exit", "RunExit.mark"): "the run's exit status",
    ("tunelab.sdk.resource_monitor", "start_monitor"): "the system metrics",
    ("tunelab.sdk.capture.fire_args", "call_parameters"): "the Fire arguments",
    ("tunelab.sdk.capture.fire_args", "fire_command_line"): "the Fire arguments",
    ("tunelab.sdk.capture.absl_flags", "flag_parameters"): "the absl flags",
    ("tunelab.sdk.capture.absl_flags", "stored_flags_argv"): "the absl flags",
    ("tunelab.sdk.capture.absl_flags", "follow_stderr"): "the absl integration",
    ("tunelab.integrations.tensorboard.writers", "record_event"): "the TensorBoard events",
    ("tunelab.integrations.tensorboard.events", "EventRecorder.record_hparams"): (
        "the TensorBoard hyperparameters"
    ),
    ("tunelab.sdk.capture.xgboost_training", "report_evals"): "the XGBoost training curves",
    ("tunelab.sdk.capture.lightgbm_training", "report_evals"): "the LightGBM training curves",
    ("tunelab.sdk.capture.keras_training", "report_epoch"): "the Keras training curves",
    # Shared by the three: "the model saved with LightGBM" and "… with Keras" as well.
    ("tunelab.sdk.capture.training_run", "file_path"): "the model saved with XGBoost",
}
BROKEN = list(HOOKS)
FAULT = "broken on purpose"


def break_hooks(hooks: list[tuple[str, str]]) -> None:
    for module_name, attribute in hooks:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        getattr(owner, name)  # a renamed hook fails here, not silently
        setattr(owner, name, _raiser(f"{module_name}.{attribute}"))


def _raiser(where: str) -> Any:
    def broken(*args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(f"{FAULT}: {where}")

    return broken


def main(argv: list[str]) -> None:
    broken = argv[:1] == ["--broken"]
    script, *args = argv[1:] if broken else argv
    if broken:
        break_hooks(BROKEN)
    sys.argv = [script, *args]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])

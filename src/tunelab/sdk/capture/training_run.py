"""XGBoost, LightGBM and Keras captured on their own: training curves and saved models.

``Task.init`` patches each framework the script imports (before or after it), when
``auto_connect_frameworks`` leaves it on (ClearML's keys)::

    Task.init(auto_connect_frameworks={"xgboost": False})     # all but XGBoost
    Task.init(auto_connect_frameworks={"tensorflow": False})  # all but Keras ("keras" too)

A framework is patched once per process and stays patched: while a task records, its hooks
report to that task (``current``); once it closes they only call the library.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab.sdk.capture.frameworks import Setting, enabled
from tunelab.sdk.capture.import_hooks import when_imported
from tunelab.sdk.capture_warnings import guarded

if TYPE_CHECKING:
    from tunelab.sdk.logger import ReportScalar

ModelSaved = Callable[[Path, str], None]

# Each framework's module, and the auto_connect_frameworks keys that switch it off.
SWITCHES: dict[str, tuple[str, ...]] = {
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    # ClearML binds Keras under "tensorflow"; "keras" is the name users reach for.
    "keras": ("tensorflow", "keras"),
}
_ORIGINAL = "__tunelab_original__"
WHAT = "the XGBoost, LightGBM and Keras integrations"


@dataclass(frozen=True)
class Run:
    """Where the hooks report: the task's scalars, and its output models (None offline:
    a model needs the server's id)."""

    report_scalar: ReportScalar
    model_saved: ModelSaved | None
    frameworks: Setting

    def captures(self, framework: str) -> bool:
        return all(enabled(self.frameworks, key) for key in SWITCHES[framework])


_lock = threading.Lock()
_current: list[Run] = []


def start(run: Run) -> Callable[[], None]:
    """Report to ``run`` from now on, patching each framework it captures as it is imported;
    returns the function that stops reporting (the task closes)."""
    from tunelab.sdk.capture import keras_training, lightgbm_training, xgboost_training

    with _lock:
        _current[:] = [run]
    patches = {
        "xgboost": xgboost_training.patch,
        "lightgbm": lightgbm_training.patch,
        "keras": keras_training.patch,
    }
    for module, patch in patches.items():
        if run.captures(module):
            when_imported(module, patch)
    return stop


def stop() -> None:
    """Report to no run: the patched frameworks only call the library from now on."""
    with _lock:
        _current.clear()


def model_savers(frameworks: Setting) -> list[str]:
    """The libraries whose plain save functions ``model_capture`` watches: ``joblib.dump``
    (ClearML's "scikit" and "joblib" keys) and ``torch.save`` ("pytorch")."""
    savers = []
    if enabled(frameworks, "scikit") and enabled(frameworks, "joblib"):
        savers.append("joblib")
    if enabled(frameworks, "pytorch"):
        savers.append("torch")
    return savers


def current(framework: str) -> Run | None:
    """The run a ``framework`` hook reports to now, if any captures it."""
    run = _current[0] if _current else None
    return run if run is not None and run.captures(framework) else None


def replace(
    owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Set ``owner.name`` to ``make(original)`` unless it is wrapped already."""
    original = getattr(owner, name)
    if hasattr(original, _ORIGINAL):
        return
    wrapper = make(original)
    setattr(wrapper, _ORIGINAL, original)
    setattr(owner, name, wrapper)


def saving(
    module: str, framework: str, what: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A wrapper for a ``save(self, file, ...)`` method of ``module``: the file saved to
    becomes an output model of ``framework`` (ClearML's name: ``"XGBoost"``)."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def save(*args: Any, **kwargs: Any) -> Any:
            run = current(module)
            path: Path | None = None
            if run is not None and run.model_saved is not None:
                with guarded(what):
                    # Resolved before saving: the name the user meant from the current folder.
                    path = file_path(args[1] if len(args) > 1 else _first_keyword(kwargs))
            result = original(*args, **kwargs)
            if path is not None and run is not None and run.model_saved is not None:
                with guarded(what):  # the user's save has succeeded; never fail it
                    if path.is_file():
                        run.model_saved(path, framework)
            return result

        return save

    return make


def with_callback(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], callback: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of a ``function(..., callbacks=[...])`` call with ``callback`` added to
    its list, wherever the caller put the list (or none). A list that holds a callback of
    Tunelab's own already (``tunelab.integrations.keras.TunelabCallback``) is left as it is:
    that one reports, and the epochs would land twice."""
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError:  # a call the library refuses: left as it is, to fail as it would
        return args, kwargs
    given = list(bound.arguments.get("callbacks") or [])
    if any(type(each).__module__.startswith("tunelab.") for each in given):
        return args, kwargs
    bound.arguments["callbacks"] = [*given, callback]
    return bound.args, bound.kwargs


def file_path(destination: Any) -> Path | None:
    """The file a model is saved to; None for a buffer or an open file, whose content may
    still change after the call."""
    if isinstance(destination, str | bytes | os.PathLike):
        text = os.fsdecode(destination)
        return Path(text).absolute() if text else None
    return None


def _first_keyword(kwargs: dict[str, Any]) -> Any:
    # XGBoost's fname, LightGBM's filename, Keras's filepath.
    for name in ("fname", "filename", "filepath"):
        if name in kwargs:
            return kwargs[name]
    return None

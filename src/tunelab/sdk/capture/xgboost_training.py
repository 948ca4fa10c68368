"""XGBoost: each boosting round's evaluations as scalars, saved boosters as output models.

``xgb.train(..., evals=[(dvalid, "valid")])`` (and ``XGBClassifier.fit(eval_set=...)``, which
trains through it) reports, as ClearML does, the eval set as the title and the metric as the
series at each round (from 0): ``valid`` / ``logloss``; a run's later trainings keep apart as
``valid - 1``, ``valid - 2``… ``Booster.save_model("model.json")``
(``XGBModel.save_model`` saves through it) registers the file as an output model, framework
``XGBoost``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from tunelab.sdk.capture import training_run
from tunelab.sdk.capture_warnings import guarded

NAME = "xgboost"
CURVES = "the XGBoost training curves"
MODELS = "the model saved with XGBoost"


def patch(xgb: ModuleType) -> None:
    """Patch the imported ``xgboost`` module (``import_hooks.when_imported``)."""
    callback = _callback_class(xgb)
    # xgb.train is training.train; the scikit-learn wrappers call the name they imported.
    for owner in (xgb, xgb.training, xgb.sklearn):
        if hasattr(owner, "train"):
            training_run.replace(owner, "train", lambda original: _training(original, callback))
    training_run.replace(xgb.Booster, "save_model", training_run.saving(NAME, "XGBoost", MODELS))


def report_evals(
    run: training_run.Run, training: int, round_: int, evals_log: Mapping[str, Any]
) -> None:
    """This round's value of each eval set and metric: title the set, series the metric."""
    for data, metrics in evals_log.items():
        title = f"{data} - {training}" if training else str(data)
        for metric, values in metrics.items():
            value = values[-1]
            if isinstance(value, tuple):  # xgb.cv's (mean, std)
                value = value[0]
            run.report_scalar(title, str(metric), float(value), int(round_))


class _Trainings:
    """Counts a run's trainings: the first reports under the eval sets' names, the next
    ones (a cross-validation loop, a refit) under ``valid - 1``… as ClearML does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run: training_run.Run | None = None
        self._count = 0

    def next(self, run: training_run.Run) -> int:
        with self._lock:
            if run is not self._run:
                self._run, self._count = run, 0
            self._count += 1
            return self._count - 1


_trainings = _Trainings()


def _training(original: Callable[..., Any], callback: type) -> Callable[..., Any]:
    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        run = training_run.current(NAME)
        if run is not None:
            with guarded(CURVES):
                recorder = callback(_trainings.next(run))
                args, kwargs = training_run.with_callback(original, args, kwargs, recorder)
        return original(*args, **kwargs)

    return train


def _callback_class(xgb: ModuleType) -> type:
    """A ``TrainingCallback`` subclass (made once xgboost is imported, from its own base)."""

    class TunelabCallback(xgb.callback.TrainingCallback):  # type: ignore[misc,name-defined]
        def __init__(self, training: int) -> None:
            super().__init__()
            self.training = training

        def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Any]) -> bool:
            run = training_run.current(NAME)
            if run is not None and evals_log:
                with guarded(CURVES):
                    report_evals(run, self.training, epoch, evals_log)
            return False  # never asks training to stop

    return TunelabCallback

"""LightGBM: each boosting round's evaluations as scalars, saved boosters as output models.

``lgb.train(params, train, valid_sets=[valid], valid_names=["valid"])`` (and
``LGBMClassifier.fit(eval_set=...)``, which trains through it) reports, as ClearML does, the
data set as the title and the metric as the series at each round (from 0): ``valid`` /
``binary_logloss``, the values ``lgb.record_evaluation`` keeps. ``Booster.save_model
("model.txt")`` registers the file as an output model, framework ``LightGBM``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tunelab.sdk.capture import training_run
from tunelab.sdk.capture_warnings import guarded

NAME = "lightgbm"
CURVES = "the LightGBM training curves"
MODELS = "the model saved with LightGBM"


def patch(lgb: ModuleType) -> None:
    """Patch the imported ``lightgbm`` module (``import_hooks.when_imported``)."""
    # lgb.train is engine.train; the scikit-learn wrappers call the name they imported.
    owners = [lgb, sys.modules.get("lightgbm.engine"), sys.modules.get("lightgbm.sklearn")]
    for owner in owners:
        if owner is not None and hasattr(owner, "train"):
            training_run.replace(owner, "train", _training)
    training_run.replace(lgb.Booster, "save_model", training_run.saving(NAME, "LightGBM", MODELS))


def report_evals(run: training_run.Run, round_: int, results: list[tuple[Any, ...]]) -> None:
    """This round's ``(data, metric, value, higher_is_better[, stdv])`` results."""
    for data, metric, value, *_ in results:
        run.report_scalar(str(data), str(metric), float(value), int(round_))


class _Recorder:
    """A LightGBM callback (called after each round with its ``CallbackEnv``)."""

    # After the round's evaluation, before early stopping (30) ends training on it: the
    # place of lgb.record_evaluation.
    order = 20
    before_iteration = False

    def __call__(self, env: Any) -> None:
        run = training_run.current(NAME)
        if run is not None and env.evaluation_result_list:
            with guarded(CURVES):
                report_evals(run, env.iteration, env.evaluation_result_list)


def _training(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        if training_run.current(NAME) is not None:
            with guarded(CURVES):
                args, kwargs = training_run.with_callback(original, args, kwargs, _Recorder())
        return original(*args, **kwargs)

    return train

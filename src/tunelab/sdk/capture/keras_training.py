"""Keras: each epoch's metrics as scalars, saved models and weights as output models.

``model.fit(x, y, validation_data=...)`` reports each epoch (from 0) under the names ClearML
gives what Keras's TensorBoard callback writes: the training ``loss`` as title ``epoch_loss``,
series ``epoch_loss``; the validation ``val_loss`` as title ``epoch_loss``, series
``validation: epoch_loss`` (one graph per metric, training and validation side by side).
``model.save("model.keras")`` and ``model.save_weights("model.weights.h5")`` register the
file as an output model, framework ``Keras``. Keras 3, whatever its backend.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from tunelab.sdk.capture import training_run
from tunelab.sdk.capture_warnings import guarded

NAME = "keras"
CURVES = "the Keras training curves"
MODELS = "the model saved with Keras"
VALIDATION = "val_"


def patch(keras: ModuleType) -> None:
    """Patch the imported ``keras`` module (``import_hooks.when_imported``)."""
    model = keras.Model
    callback = _callback_class(keras)
    board = keras.callbacks.TensorBoard
    training_run.replace(model, "fit", lambda original: _fitting(original, callback, board))
    for method in ("save", "save_weights"):
        training_run.replace(model, method, training_run.saving(NAME, "Keras", MODELS))


def graph_of(name: str) -> tuple[str, str]:
    """The (title, series) of a metric in Keras's logs: ``val_loss`` -> epoch_loss /
    validation: epoch_loss."""
    if name.startswith(VALIDATION):
        title = "epoch_" + name[len(VALIDATION) :]
        return title, "validation: " + title
    return "epoch_" + name, "epoch_" + name


def report_epoch(run: training_run.Run, epoch: int, logs: Mapping[str, Any]) -> None:
    """One epoch's logs (the values ``History`` keeps)."""
    for name, value in logs.items():
        if isinstance(value, int | float) or hasattr(value, "__float__"):
            title, series = graph_of(str(name))
            run.report_scalar(title, series, float(value), int(epoch))


def _fitting(original: Callable[..., Any], callback: type, board: type) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(*args: Any, **kwargs: Any) -> Any:
        if training_run.current(NAME) is not None:
            with guarded(CURVES):
                if not _board_reports(original, args, kwargs, board):
                    args, kwargs = training_run.with_callback(original, args, kwargs, callback())
        return original(*args, **kwargs)

    return fit


def _board_reports(
    fit: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], board: type
) -> bool:
    """Whether a ``TensorBoard`` callback of this fit reports the epochs already: its
    ``tf.summary`` values are captured (TensorBoard capture on) under the same names, and
    would land twice."""
    from tunelab.integrations.tensorboard.writers import recording

    if recording() is None:
        return False
    try:
        given = inspect.signature(fit).bind(*args, **kwargs).arguments.get("callbacks")
    except TypeError:  # a call Keras refuses: it fails as it would
        return False
    return any(isinstance(each, board) for each in given or [])


def _callback_class(keras: ModuleType) -> type:
    """A ``keras.callbacks.Callback`` subclass (made once keras is imported)."""

    class TunelabCallback(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            run = training_run.current(NAME)
            if run is not None and logs:
                with guarded(CURVES):
                    report_epoch(run, epoch, logs)

    return TunelabCallback

"""A Keras 3 callback that reports to Tunelab (any backend)::

    from tunelab.integrations.keras import TunelabCallback

    model.fit(x, y, epochs=10, validation_split=0.2,
              callbacks=[keras.callbacks.ModelCheckpoint("best.keras", save_best_only=True),
                         TunelabCallback(checkpoint="best.keras")])

- ``on_train_begin``: what ``fit`` was given (``epochs``, ``steps``, ``verbose``) becomes the
  hyperparameter section ``Keras``, each value with its type.
- ``on_epoch_end``: each of the epoch's logs a scalar at the epoch (from 0, as Keras counts),
  named as ``Task.init``'s own Keras capture names them, after ClearML: ``loss`` is title
  ``epoch_loss`` series ``epoch_loss``, ``val_loss`` the same title, series
  ``validation: epoch_loss``.
- ``checkpoint``: the file a ``ModelCheckpoint`` before this callback writes (its
  ``{epoch}``/``{val_loss}`` placeholders filled in the same way), registered as an output
  model whenever it is written anew.

With a ``Task.init`` of its own, a script that reports through this callback switches the
automatic Keras capture off (``auto_connect_frameworks={"keras": False}``): that capture
adds no epoch callback beside this one, but would register the checkpoints' saves too.

It reports to the task given, or the one ``Task.init`` started, or starts one (not closed by
the callback: the run ends with the script). A failure to report is printed once as
``tunelab: could not capture …`` and never stops training.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras  # type: ignore[import-untyped]

from tunelab.integrations.run_hooks import WeightsFiles, plain_value, task_for
from tunelab.sdk.capture.keras_training import graph_of
from tunelab.sdk.capture_warnings import guarded

if TYPE_CHECKING:
    from tunelab.sdk.task import Task

__all__ = ["HPARAMS_SECTION", "TunelabCallback"]

HPARAMS_SECTION = "Keras"


class TunelabCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Reports ``fit``'s parameters, epoch logs and an optional checkpoint to a Tunelab task."""

    def __init__(
        self,
        task: Task | None = None,
        project_name: str = "Keras",
        task_name: str = "fit",
        checkpoint: str | Path | None = None,
    ) -> None:
        super().__init__()
        self._given = task
        self._project_name = project_name
        self._task_name = task_name
        self._checkpoint = None if checkpoint is None else str(checkpoint)
        self._task: Task | None = None
        self._weights: WeightsFiles | None = None

    @property
    def task(self) -> Task:
        """The task it reports to (started on first use when none is)."""
        if self._task is None:
            self._task = task_for(self._given, self._project_name, self._task_name)
        return self._task

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        with guarded("the Keras parameters"):
            params = {str(k): plain_value(v) for k, v in (self.params or {}).items()}
            self.task.set_parameters_as_dict({HPARAMS_SECTION: params})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        with guarded("the Keras logs"):
            logger = self.task.get_logger()
            for key, value in (logs or {}).items():
                if isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
                    continue  # what another callback put there that is not a number
                title, series = graph_of(str(key))
                logger.report_scalar(title, series, float(value), epoch)
        if self._checkpoint is not None:
            with guarded("the Keras checkpoint"):
                # ModelCheckpoint's own placeholders: the epoch counted from 1, and the logs.
                path = Path(self._checkpoint.format(epoch=epoch + 1, **(logs or {})))
                if self._weights is None:
                    self._weights = WeightsFiles(self.task, "Keras")
                self._weights.register(path, tags=["checkpoint"])

"""A PyTorch Lightning logger that reports to Tunelab::

    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint
    from tunelab.integrations.lightning import TunelabLogger

    logger = TunelabLogger(project_name="mnist", task_name="lenet")
    trainer = Trainer(logger=logger, max_epochs=10,
                      callbacks=[ModelCheckpoint(monitor="val_loss", save_last=True)])

- ``log_metrics`` (``self.log`` in a LightningModule): each metric a scalar at the trainer's
  step, its name split on the last ``/`` (``val/loss`` is title ``val`` series ``loss``; a
  name without one, ``train_loss``, is title and series both).
- ``log_hyperparams`` (``self.save_hyperparameters()``): the hyperparameter section
  ``Lightning``, each value with its type, nested dicts flattened with ``/``
  (``{"optim": {"lr": 0.1}}`` is ``Lightning/optim/lr``).
- ``after_save_checkpoint``: the ``ModelCheckpoint``'s best and last checkpoints become
  output models (named by their file, tagged ``best`` / ``last``); a file saved again
  (``last.ckpt``) updates its model. ``log_checkpoints=False`` registers none.
- ``name`` is the project, ``version`` the task's id, ``experiment`` the ``Task``.

It reports to the task given, or the one ``Task.init`` started, or starts one (not closed by
the logger: the run ends with the script). Only rank zero reports. A failure to report is
printed once as ``tunelab: could not capture …`` and never stops training.
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only

from tunelab.integrations.run_hooks import WeightsFiles, plain_value, task_for
from tunelab.sdk.capture_warnings import guarded

if TYPE_CHECKING:
    from tunelab.sdk.task import Task

__all__ = ["HPARAMS_SECTION", "TunelabLogger"]

HPARAMS_SECTION = "Lightning"


class TunelabLogger(Logger):
    """Lightning's metrics, hyperparameters and checkpoints on a Tunelab task."""

    def __init__(
        self,
        project_name: str = "Lightning",
        task_name: str = "Trainer",
        task: Task | None = None,
        log_checkpoints: bool = True,
    ) -> None:
        super().__init__()
        self._given = task
        self._project_name = project_name
        self._task_name = task_name
        self._log_checkpoints = log_checkpoints
        self._task: Task | None = None
        self._weights: WeightsFiles | None = None

    @property
    @rank_zero_experiment
    def experiment(self) -> Task:
        """The ``Task`` it reports to (started on first use when none is)."""
        if self._task is None:
            self._task = task_for(self._given, self._project_name, self._task_name)
        return self._task

    @property
    def name(self) -> str:
        if self._task is None and self._given is None:
            return self._project_name
        return str(self.experiment.project)

    @property
    def version(self) -> str:
        return str(self.experiment.id)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        with guarded("the Lightning metrics"):
            logger = self.experiment.get_logger()
            for key, value in metrics.items():
                title, _, series = key.rpartition("/")
                logger.report_scalar(title or series, series, float(value), step or 0)

    @rank_zero_only
    def log_hyperparams(
        self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        with guarded("the Lightning hyperparameters"):
            values = vars(params) if isinstance(params, Namespace) else dict(params)
            self.experiment.set_parameters_as_dict({HPARAMS_SECTION: _plain(values)})

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if not self._log_checkpoints:
            return
        with guarded("the Lightning checkpoints"):
            best = getattr(checkpoint_callback, "best_model_path", "") or ""
            last = getattr(checkpoint_callback, "last_model_path", "") or ""
            for path in dict.fromkeys(p for p in (best, last) if p):
                tags = [tag for tag, p in (("best", best), ("last", last)) if p == path]
                self._files().register(Path(path), tags=tags)

    def _files(self) -> WeightsFiles:
        if self._weights is None:
            self._weights = WeightsFiles(self.experiment, "PyTorch")
        return self._weights


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Nested mappings stay mappings (flattened with ``/`` when recorded), Namespaces too."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Namespace):
            value = vars(value)
        plain[str(key)] = _plain(value) if isinstance(value, Mapping) else plain_value(value)
    return plain

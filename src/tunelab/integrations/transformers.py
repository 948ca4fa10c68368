"""Hugging Face Transformers' ``Trainer`` reporting to Tunelab through a callback::

    from tunelab.integrations.transformers import TunelabCallback

    trainer = Trainer(model=model, args=args, train_dataset=data, report_to=[],
                      callbacks=[TunelabCallback()])
    trainer.train()

- At the start of training, the ``TrainingArguments`` (``*_token`` fields left out) and the
  model's configuration (as ``model/<key>``) become the hyperparameter section
  ``Transformers``, each with its type.
- What the Trainer logs becomes scalars at its global step, named as ClearML's
  ``ClearMLCallback`` names them: ``eval_loss`` is title ``eval`` series ``loss``,
  ``test_<name>`` title ``test``, anything else title ``train`` (``loss`` is ``train`` /
  ``loss``); the end-of-training summary (``train_runtime``, ``train_loss``,
  ``total_flos``…) single values.
- At the end of training the final weights (the newest of the last checkpoint and the output
  directory's own ``model.safetensors`` / ``pytorch_model.bin``) become an output model with
  the model's configuration; with ``log_checkpoints=True`` each checkpoint does too, as
  ``checkpoint-<step>``. A Trainer that saves nothing (``save_strategy="no"``) registers none.

It reports to the task ``Task.init`` started, or starts one (``project_name`` / ``task_name``,
ClearML's defaults) that it does not close: the run ends with the script. Only the main
process of a distributed run reports. A failure to report is printed once as
``tunelab: could not capture …`` and never stops training.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import transformers

from tunelab.integrations.run_hooks import WeightsFiles, plain_value, task_for
from tunelab.sdk.capture_warnings import guarded

if TYPE_CHECKING:
    from tunelab.sdk.task import Task

__all__ = ["HPARAMS_SECTION", "TunelabCallback"]

# ClearMLCallback's section.
HPARAMS_SECTION = "Transformers"
# What ClearMLCallback reports once, as single values, rather than as curves.
SINGLE_VALUES = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_loss",
        "total_flos",
        "epoch",
    }
)
WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")


class TunelabCallback(transformers.TrainerCallback):
    """Reports a ``Trainer``'s arguments, logs and final model to a Tunelab task."""

    def __init__(
        self,
        task: Task | None = None,
        project_name: str = "HuggingFace Transformers",
        task_name: str = "Trainer",
        log_checkpoints: bool = False,
    ) -> None:
        self._given = task
        self._project_name = project_name
        self._task_name = task_name
        self._log_checkpoints = log_checkpoints
        self._task: Task | None = None
        self._weights: WeightsFiles | None = None
        self._last_checkpoint: Path | None = None

    @property
    def task(self) -> Task:
        """The task it reports to (started on first use when none is)."""
        if self._task is None:
            self._task = task_for(self._given, self._project_name, self._task_name)
        return self._task

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._last_checkpoint = None
        with guarded("the Transformers training arguments"):
            values = {
                name: plain_value(value)
                for name, value in args.to_dict().items()
                if not name.endswith("_token")  # secrets (to_dict masks them already)
            }
            config = getattr(kwargs.get("model"), "config", None)
            if config is not None:
                values["model"] = {k: plain_value(v) for k, v in config.to_dict().items()}
            self.task.set_parameters_as_dict({HPARAMS_SECTION: values})

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        with guarded("the Transformers logs"):
            logger = self.task.get_logger()
            for key, value in logs.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue  # ClearMLCallback drops what is not a number too
                if key in SINGLE_VALUES:
                    logger.report_single_value(key, value)
                    continue
                title, series = _title_series(key)
                logger.report_scalar(title, series, float(value), state.global_step)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self._last_checkpoint = folder
        if self._log_checkpoints:
            with guarded("the Transformers checkpoint"):
                weights = _weights_file(folder)
                if weights is not None:
                    self._files().register(weights, name=folder.name, tags=["checkpoint"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        with guarded("the Transformers model"):
            found = [
                path
                for folder in (Path(args.output_dir), self._last_checkpoint)
                if folder is not None and (path := _weights_file(folder)) is not None
            ]
            if not found:
                return
            final = max(found, key=lambda path: path.stat().st_mtime)
            model = kwargs.get("model")
            config = getattr(model, "config", None)
            # A file already registered as a checkpoint is the same model: saved once more
            # it would be, so the final model is a model of its own.
            self._files(fresh=True).register(
                final,
                name=type(model).__name__ if model is not None else final.parent.name,
                tags=["final"],
                config=config.to_dict() if config is not None else None,
            )

    def _files(self, fresh: bool = False) -> WeightsFiles:
        if self._weights is None or fresh:
            weights = WeightsFiles(self.task, "PyTorch")
            if fresh:
                return weights
            self._weights = weights
        return self._weights


def _title_series(key: str) -> tuple[str, str]:
    for prefix in ("eval", "test"):
        if key.startswith(f"{prefix}_"):
            return prefix, key[len(prefix) + 1 :]
    return "train", key


def _weights_file(folder: Path) -> Path | None:
    return next((folder / n for n in WEIGHTS_FILES if (folder / n).is_file()), None)

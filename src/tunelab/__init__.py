"""Tunelab: a self-hosted experiment manager for machine-learning work.

Two lines in a training script record the whole run::

    from tunelab import Task
    task = Task.init(project_name="vision/resnet", task_name="baseline")

``import tunelab`` stays cheap: it loads the SDK (httpx and the domain), never the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "InputModel",
    "Logger",
    "Model",
    "OutputModel",
    "PipelineController",
    "Task",
    "__version__",
]

if TYPE_CHECKING:
    from tunelab.pipelines import PipelineController
    from tunelab.sdk.logger import Logger
    from tunelab.sdk.models import InputModel, Model, OutputModel
    from tunelab.sdk.task import Task

_MODELS = {"InputModel", "Model", "OutputModel"}


def __getattr__(name: str) -> Any:
    # Load the SDK on first use, so `tunelab --help` and `import tunelab` stay instant.
    if name == "Task":
        from tunelab.sdk.task import Task

        return Task
    if name == "Logger":
        from tunelab.sdk.logger import Logger

        return Logger
    if name == "PipelineController":
        from tunelab.pipelines import PipelineController

        return PipelineController
    if name in _MODELS:
        from tunelab.sdk import models

        return getattr(models, name)
    raise AttributeError(f"module 'tunelab' has no attribute {name!r}")

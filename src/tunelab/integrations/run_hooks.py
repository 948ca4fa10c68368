"""What the explicit framework hooks share: the task they report to, and the weights files
they register as its output models.

The hooks (Transformers' ``TunelabCallback``, Lightning's ``TunelabLogger``, Keras'
``TunelabCallback``) report to the task ``Task.init`` started, or start one themselves. A task
they start captures no framework on its own (``auto_connect_frameworks=False``): the hook
reports what the framework gives it, and checkpoints saved with ``torch.save`` would
otherwise be registered a second time, as ClearML's Transformers callback avoids too.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunelab.sdk.models import OutputModel
    from tunelab.sdk.task import Task


def task_for(task: Task | None, project_name: str, task_name: str) -> Task:
    """``task``, else the task this process started, else a new one."""
    from tunelab.sdk.task import Task

    if task is not None:
        return task
    current = Task.current_task()
    if current is not None:
        return current
    return Task.init(project_name=project_name, task_name=task_name, auto_connect_frameworks=False)


def plain_value(value: Any) -> Any:
    """A hyperparameter value as it is recorded: enums by their value, numbers and text as
    they are, anything else (a dtype, a path) as its text."""
    from enum import Enum

    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return value
    return str(value)


class WeightsFiles:
    """Output models of one task, one per weights file: a file saved again (``last.ckpt``
    each epoch) updates its model's weights, a new file is a new model.

    The file is copied before its upload, which runs in the background: a framework may
    delete or rewrite a checkpoint (a ``save_top_k`` that dropped it) while it uploads.
    """

    def __init__(self, task: Task, framework: str) -> None:
        self._task = task
        self._framework = framework
        self._models: dict[Path, OutputModel] = {}
        self._sent: dict[Path, tuple[float, int]] = {}

    def register(
        self,
        path: Path,
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        config: dict[str, Any] | None = None,
    ) -> OutputModel | None:
        """Register ``path`` (a file) unless this very version of it was registered already."""
        from tunelab.sdk.models import OutputModel

        path = path.resolve()
        if not path.is_file():
            return None
        stat = path.stat()
        version = (stat.st_mtime, stat.st_size)
        model = self._models.get(path)
        if model is not None and self._sent.get(path) == version:
            return model
        if model is None:
            model = OutputModel(
                task=self._task,
                name=name or path.name,
                framework=self._framework,
                config_dict=config,
                tags=list(tags),
            )
            self._models[path] = model
        # In the task's scratch folder, removed when the run ends.
        copy = Path(tempfile.mkdtemp(dir=self._task._scratch_dir())) / path.name
        shutil.copy2(path, copy)
        model.update_weights(copy, auto_delete_file=True)
        self._sent[path] = version
        return model

"""TensorBoard captured on its own: what a ``SummaryWriter`` writes also lands on the task.

PyTorch's ``torch.utils.tensorboard.SummaryWriter`` and ``tensorboardX.SummaryWriter``, whether
imported before or after ``Task.init``::

    task = Task.init(project_name="vision", task_name="resnet")
    writer = SummaryWriter("runs/resnet")
    writer.add_scalar("loss/train", 0.25, 3)           # scalar loss / train, iteration 3
    writer.add_histogram("fc/weights", weights, 3)     # histogram plot fc / weights
    writer.add_image("input", image, 3)                # debug sample Images / input
    writer.add_text("notes", "lr halved", 3)           # console: SUMMARY LOG: notes lr halved
    writer.add_hparams({"lr": 0.1, "bs": 32}, {"acc": 0.9})   # TB_hparams/lr (float), /bs (int)

TensorFlow 2's ``tf.summary`` (scalar, histogram, image, text) lands the same way, named
alike (``tf_summary``); TensorFlow is patched when the script imports it, never imported here.
It is not in the test suite (which runs without TensorFlow): it was checked by hand with
TensorFlow 2.21 against a real server, a script writing through two
``tf.summary.create_file_writer`` writers and a Keras ``TensorBoard`` callback.

The event files are written as before. ``Task.init(auto_connect_frameworks={"tensorboard":
False})`` turns it off (``tf.summary`` too, as in ClearML), ``{"tensorboard":
{"report_hparams": False}}`` leaves out add_hparams.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tunelab.integrations.tensorboard.events import HPARAMS_SECTION, EventRecorder
from tunelab.integrations.tensorboard.tf_summary import TENSORFLOW, patch_summary_ops
from tunelab.integrations.tensorboard.writers import start as start_recording
from tunelab.sdk.capture.import_hooks import when_imported

if TYPE_CHECKING:
    from tunelab.sdk.task import Task

__all__ = ["HPARAMS_SECTION", "WHAT", "EventRecorder", "reports_hparams", "start"]

WHAT = "the TensorBoard integration"


def start(task: Task, frameworks: bool | Mapping[str, Any] = True) -> Callable[[], None]:
    """Record TensorBoard writers into ``task`` from now on (``frameworks``: Task.init's
    ``auto_connect_frameworks``); returns the function that stops it, when the task closes."""

    def set_hparams(values: dict[str, Any]) -> None:
        task.set_parameters_as_dict({HPARAMS_SECTION: values})

    hparams = set_hparams if reports_hparams(frameworks) else None
    stop = start_recording(EventRecorder(task.get_logger(), hparams))
    when_imported(TENSORFLOW, patch_summary_ops)
    return stop


def reports_hparams(frameworks: bool | Mapping[str, Any]) -> bool:
    """ClearML's ``{"tensorboard": {"report_hparams": False}}``; a missing key is on, an
    empty dict off."""
    setting: Any = frameworks
    for key in ("tensorboard", "report_hparams"):
        if not isinstance(setting, Mapping):
            break
        setting = setting.get(key, True) if setting else False
    return bool(setting)

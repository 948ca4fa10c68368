"""Patching PyTorch's and tensorboardX's ``SummaryWriter`` so the run sees what they write.

Both writers funnel every ``add_*`` call into ``FileWriter.add_event``: that one method is
wrapped (the event file is written first, exactly as before, then the event is recorded),
with two more that only know things the event does not: ``SummaryWriter.add_scalars`` (which
of its keys each event is) and ``add_hparams`` (its values' Python types; the event holds
numbers as floats). The patches are installed when the writer's module is imported (before
or after ``Task.init``) and stay; with no run recording, they only call the original.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tunelab.integrations.tensorboard.events import EventRecorder, ScalarsGroup
from tunelab.sdk.capture.import_hooks import when_imported
from tunelab.sdk.capture_warnings import guarded, warn

WRITER_MODULES = ("torch.utils.tensorboard.writer", "tensorboardX.writer")
EVENTS = "the TensorBoard events"
HPARAMS = "the TensorBoard hyperparameters"
_ORIGINAL = "__tunelab_original__"


class _Run:
    recorder: EventRecorder | None = None


_run = _Run()
_writing = threading.local()  # .group: the add_scalars call this thread is in


def start(recorder: EventRecorder) -> Callable[[], None]:
    """Report what TensorBoard writers write to ``recorder`` until the returned function is
    called (when the run ends)."""
    _run.recorder = recorder
    for name in WRITER_MODULES:
        when_imported(name, patch_writers)

    def stop() -> None:
        if _run.recorder is recorder:
            _run.recorder = None
            recorder.flush()

    return stop


def recording() -> EventRecorder | None:
    """The recorder of the run recording now, if any."""
    return _run.recorder


def patch_writers(module: ModuleType) -> None:
    """Wrap the ``FileWriter`` and ``SummaryWriter`` of a writer module (once)."""
    _wrap(module.FileWriter, "add_event", _recording_add_event)
    _wrap(module.SummaryWriter, "add_scalars", _naming_add_scalars)
    _wrap(module.SummaryWriter, "add_hparams", _recording_add_hparams)


def record_event(writer: Any, event: Any) -> None:
    """Hand one written event to the run's recorder, if a run is recording."""
    recorder = _run.recorder
    if recorder is not None:
        recorder.record(event, str(writer.get_logdir()), getattr(_writing, "group", None))


def _recording_add_event(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_event(self: Any, event: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, event, *args, **kwargs)
        if _run.recorder is not None:
            # guarded()'s contract without its context manager: this runs for every
            # add_scalar of a training loop, and try/except costs nothing when nothing fails.
            try:
                record_event(self, event)
            except Exception as exc:
                warn(EVENTS, exc)
        return result

    return add_event


def _naming_add_scalars(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_scalars(
        self: Any, main_tag: Any, tag_scalar_dict: Any, *args: Any, **kwargs: Any
    ) -> Any:
        group = None
        if _run.recorder is not None:
            with guarded(EVENTS):
                group = ScalarsGroup(str(main_tag), iter([str(k) for k in tag_scalar_dict]))
        _writing.group = group
        try:
            return original(self, main_tag, tag_scalar_dict, *args, **kwargs)
        finally:
            _writing.group = None

    return add_scalars


def _recording_add_hparams(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_hparams(self: Any, hparam_dict: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, hparam_dict, *args, **kwargs)
        recorder = _run.recorder
        if recorder is not None:
            with guarded(HPARAMS):
                recorder.record_hparams(hparam_dict)
        return result

    return add_hparams


def _wrap(owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    current = getattr(owner, name)
    if getattr(current, _ORIGINAL, None) is not None:
        return  # patched already (a second Task.init in the same process)
    wrapper = functools.wraps(current)(make(current))
    setattr(wrapper, _ORIGINAL, current)
    setattr(owner, name, wrapper)

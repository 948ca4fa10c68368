"""TensorBoard events as the run's reports: scalars, histograms, images, text, hparams.

A ``SummaryWriter`` turns each ``add_*`` call into an ``Event`` protocol buffer holding a
``Summary``; ``EventRecorder.record`` reads its values (PyTorch's and tensorboardX's protocol
buffers alike: only field names are used, no TensorBoard module is imported) and reports:

- a scalar (``simple_value``, or a ``scalars`` tensor) at iteration = the event's step;
- a histogram as a ``histogram`` plot of that step: the first ``histogram_every`` of a tag,
  then every ``histogram_every``-th, and the last one when the run ends;
- an image (``add_image(s)``, ``add_figure``) as a debug sample;
- text (``add_text``) as a line of the task's console, ``SUMMARY LOG: <tag> <text>``;
- ``add_hparams``' values, typed, in the hyperparameter section ``TB_hparams``.

Names follow ``names``: ``writer.add_scalar("loss/train", 0.5, 3)`` is the point (3, 0.5)
of the curve ``loss`` / ``train``.
"""

from __future__ import annotations

import io
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tunelab.integrations.tensorboard.names import HISTOGRAM, IMAGE, SCALAR, Names
from tunelab.sdk.logger import Logger

# ClearML's section for TensorBoard's hyperparameters.
HPARAMS_SECTION = "TB_hparams"
HISTOGRAM_EVERY = 5  # ClearML's histogram_update_freq_multiplier for these writers
TEXT_SUFFIX = "/text_summary"  # what add_text appends to the tag it is given
MAX_BINS = 50  # a histogram plot's bars; TensorFlow-style histograms carry hundreds of buckets

# TensorFlow's DataType numbers (types.proto).
_DT_FLOAT = 1
_DT_DOUBLE = 2
_pack32, _unpack32 = struct.Struct("<f").pack, struct.Struct("<f").unpack
_SHORT_FORMS = ("%.6g", "%.7g", "%.8g")  # protobuf's own search for a float's text
_INF = float("inf")


@dataclass
class ScalarsGroup:
    """``add_scalars(main_tag, {key: value, ...})`` being written: each of its events (one
    per key, in the dict's order) is the series ``key`` of the title ``main_tag``."""

    main_tag: str
    keys: Iterator[str]


@dataclass
class _HistogramTag:
    seen: int = 0
    waiting: tuple[int, Any] | None = None  # (step, histo) not reported yet


class EventRecorder:
    """Reports the summaries of one run's TensorBoard events to its logger."""

    def __init__(
        self,
        logger: Logger,
        set_hparams: Callable[[dict[str, Any]], None] | None,
        histogram_every: int = HISTOGRAM_EVERY,
    ) -> None:
        self._logger = logger
        self._set_hparams = set_hparams  # None: add_hparams is not reported
        self._histogram_every = max(1, histogram_every)
        self._names = Names()
        self._lock = threading.Lock()
        self._histograms: dict[tuple[str, str], _HistogramTag] = {}

    def record(self, event: Any, logdir: str, group: ScalarsGroup | None = None) -> None:
        """Report what ``event`` (written under ``logdir``) holds; other events are ignored."""
        if event.WhichOneof("what") != "summary":
            return
        step = int(event.step)
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                self._scalar(logdir, value.tag, step, _float32(value.simple_value), group)
            elif kind == "histo":
                self._histogram(logdir, value.tag, step, value.histo)
            elif kind == "image":
                self._image(logdir, value.tag, step, value.image.encoded_image_string)
            elif kind == "tensor":
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "scalars":
                    number = _tensor_number(value.tensor)
                    if number is not None:
                        self._scalar(logdir, value.tag, step, number, group)
                elif plugin == "text":
                    self._text(value.tag, value.tensor)
            # Audio, video, PR curves, meshes, graphs and add_hparams' own events are left to
            # the event file (add_hparams is reported from its arguments, see record_hparams).

    def record_hparams(self, hparams: Mapping[str, Any]) -> None:
        """``add_hparams``' values, each with its own type (the event holds them as floats)."""
        if self._set_hparams is not None:
            self._set_hparams({str(name): _plain(value) for name, value in hparams.items()})

    def flush(self) -> None:
        """The run ends: report each tag's last histogram if it was held back."""
        with self._lock:
            waiting = [
                (graph, tag.waiting) for graph, tag in self._histograms.items() if tag.waiting
            ]
            for tag in self._histograms.values():
                tag.waiting = None
        for (title, series), (step, histo) in waiting:
            self._report_histogram(title, series, step, histo)

    # ----- each kind ------------------------------------------------------------------

    def _scalar(
        self, logdir: str, tag: str, step: int, value: float, group: ScalarsGroup | None
    ) -> None:
        key = next(group.keys, None) if group is not None and tag == group.main_tag else None
        title, series = self._names.of(SCALAR, logdir, tag, key)
        self._logger.report_scalar(title, series, value, step)

    def _histogram(self, logdir: str, tag: str, step: int, histo: Any) -> None:
        graph = self._names.of(HISTOGRAM, logdir, tag)
        with self._lock:
            state = self._histograms.setdefault(graph, _HistogramTag())
            state.seen += 1
            now = state.seen <= self._histogram_every or state.seen % self._histogram_every == 0
            state.waiting = None if now else (step, histo)
        if now:
            self._report_histogram(*graph, step, histo)

    def _report_histogram(self, title: str, series: str, step: int, histo: Any) -> None:
        counts, labels = histogram_bins(histo)
        if counts:
            self._logger.report_histogram(
                title, series, counts, iteration=step, xlabels=labels, yaxis="count"
            )

    def _image(self, logdir: str, tag: str, step: int, encoded: bytes) -> None:
        # The writer encoded the image (a grid for add_images, a figure's rendering) with
        # Pillow itself, so Pillow is there to read it back.
        from PIL import Image

        title, series = self._names.of(IMAGE, logdir, tag)
        image = Image.open(io.BytesIO(encoded))
        image.load()
        self._logger.report_image(title, series, iteration=step, image=image)

    def _text(self, tag: str, tensor: Any) -> None:
        text = "\n".join(s.decode("utf-8", errors="replace") for s in tensor.string_val)
        tag = tag.removesuffix(TEXT_SUFFIX)
        # Only the task's console: the script did not print it.
        self._logger.report_text(f"SUMMARY LOG: {tag} {text}", print_console=False)


def histogram_bins(histo: Any) -> tuple[list[float], list[str]]:
    """Bar heights and their labels (each bar's right edge) of a ``HistogramProto``; at most
    ``MAX_BINS`` bars, re-binned evenly between its min and max when it has more buckets."""
    low, high = float(histo.min), float(histo.max)
    # TensorFlow-style buckets end at DBL_MAX: the data ends at max.
    limits = [min(float(limit), high) for limit in histo.bucket_limit]
    counts = [float(count) for count in histo.bucket]
    if len(counts) > MAX_BINS:
        width = (high - low) / MAX_BINS or 1.0
        even = [0.0] * MAX_BINS
        left = low
        for right, count in zip(limits, counts, strict=False):
            centre = (max(left, low) + right) / 2
            even[min(MAX_BINS - 1, max(0, int((centre - low) / width)))] += count
            left = right
        counts = even
        limits = [low + width * (index + 1) for index in range(MAX_BINS)]
    heights = [int(c) if c.is_integer() else c for c in counts]
    return heights, [f"{limit:.4g}" for limit in limits[: len(heights)]]


def _float32(value: float) -> float:
    """A float32 as the shortest decimal that reads back as it (``0.1``, not
    ``0.10000000149011612``), as TensorBoard and ClearML show it."""
    if value != value or value in (_INF, -_INF):
        return value
    for form in _SHORT_FORMS:
        shorter = float(form % value)
        try:
            if _unpack32(_pack32(shorter))[0] == value:
                return shorter
        except OverflowError:  # rounded past the largest float32
            continue
    return float(f"{value:.9g}")  # nine digits always read back


def _tensor_number(tensor: Any) -> float | None:
    if tensor.dtype == _DT_FLOAT and tensor.float_val:
        return _float32(tensor.float_val[0])
    if tensor.dtype == _DT_DOUBLE and tensor.double_val:
        return float(tensor.double_val[0])
    return None


def _plain(value: Any) -> Any:
    """bool, int, float, str and None stay as they are; a NumPy or torch scalar becomes the
    Python number it holds; anything else its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError, RuntimeError):  # not a one-element array
            return str(value)
        if isinstance(plain, bool | int | float | str):
            return plain
    return str(value)

"""TensorFlow 2's ``tf.summary`` captured as a ``SummaryWriter`` is, with the same names and kinds::

    writer = tf.summary.create_file_writer("runs/train")
    with writer.as_default():
        tf.summary.scalar("loss/train", 0.25, step=3)     # scalar loss / train, iteration 3
        tf.summary.histogram("fc/weights", weights, 3)    # histogram plot fc / weights
        tf.summary.image("input", images, 3)              # debug sample Images / input
        tf.summary.text("notes", "lr halved", 3)          # console: SUMMARY LOG: notes lr halved

Every ``tf.summary`` call ends in one of TensorFlow's summary ops (``write_summary``, and the
older ``write_scalar_summary``, ``write_histogram_summary``, ``write_image_summary``,
``write_raw_proto_summary``). When TensorFlow is imported (before or after ``Task.init``; never
by Tunelab) those ops are wrapped: the original writes the event file as before, then the
values are turned into the ``Summary`` a TensorBoard writer would have written and handed to
the run's ``EventRecorder``. ``create_summary_file_writer`` is wrapped too, to learn each
writer's log directory (two writers' equal tags stay apart, as with ``SummaryWriter``).

Only values written eagerly are captured: a summary inside a ``tf.function`` runs as part of
a graph, and is left to the event file.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tunelab.integrations.tensorboard.writers import EVENTS, recording
from tunelab.sdk.capture_warnings import guarded

TENSORFLOW = "tensorflow"
HISTOGRAM_BUCKETS = 30  # tf.summary.histogram's default
SUMMARY_OPS = (
    "write_summary",
    "write_scalar_summary",
    "write_histogram_summary",
    "write_image_summary",
    "write_raw_proto_summary",
)
_ORIGINAL = "__tunelab_original__"
_DT_FLOAT, _DT_DOUBLE, _DT_STRING = 1, 2, 7  # TensorFlow's DataType numbers (types.proto)

_logdirs: dict[int, str] = {}  # id(a writer's resource) -> its log directory


@dataclass(frozen=True)
class Histogram:
    """A ``HistogramProto``'s fields (what ``events.histogram_bins`` reads)."""

    min: float
    max: float
    bucket_limit: list[float]  # each bucket's right edge
    bucket: list[float]  # each bucket's count


def histogram_from_buckets(buckets: Iterable[Iterable[Any]]) -> Histogram | None:
    """``tf.summary.histogram``'s tensor, rows of ``(left edge, right edge, count)``; None
    when it has no rows (no data)."""
    rows = [[float(cell) for cell in row] for row in buckets]
    if not rows:
        return None
    return Histogram(rows[0][0], rows[-1][1], [row[1] for row in rows], [row[2] for row in rows])


def histogram_of_values(values: Any, buckets: int = HISTOGRAM_BUCKETS) -> Histogram | None:
    """The histogram of raw values (``write_histogram_summary`` is given the data itself):
    ``buckets`` even buckets over the finite values; None when there are none."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64).ravel()
    data = data[np.isfinite(data)]
    if data.size == 0:
        return None
    counts, edges = np.histogram(data, bins=buckets)
    return Histogram(
        float(edges[0]), float(edges[-1]), [float(e) for e in edges[1:]], [float(c) for c in counts]
    )


def image_samples(tag: str, strings: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """``tf.summary.image``'s tensor, ``[width, height, png, png, ...]``: each encoded image
    with its tag; several images are ``<tag>/sample_<n>``, as ClearML names them."""
    images = list(strings)[2:]
    if len(images) == 1:
        return [(tag, images[0])]
    return [(f"{tag}/sample_{index}", image) for index, image in enumerate(images)]


def text_lines(strings: Any) -> list[bytes]:
    """``tf.summary.text``'s tensor (one string or any shape of them) as its strings, in order."""
    import numpy as np

    return [s if isinstance(s, bytes) else str(s).encode() for s in np.asarray(strings).ravel()]


# ----- the patch ----------------------------------------------------------------------


def patch_summary_ops(module: ModuleType) -> None:
    """Wrap TensorFlow's summary ops (once); ``module`` is ``tensorflow``, imported already."""
    from tensorflow.python.ops import gen_summary_ops  # type: ignore[import-untyped]

    _wrap(gen_summary_ops, "create_summary_file_writer", _remembering_logdir)
    converters: dict[str, Callable[..., list[Any]]] = {
        "write_summary": _summary_values,
        "write_scalar_summary": _scalar_values,
        "write_histogram_summary": _histogram_values,
        "write_image_summary": _image_values,
        "write_raw_proto_summary": _raw_values,
    }
    for name in SUMMARY_OPS:
        _wrap(gen_summary_ops, name, _recording(converters[name]))


def _recording(convert: Callable[..., list[Any]]) -> Callable[[Callable[..., Any]], Any]:
    """A summary op that, once written, hands what ``convert`` makes of its arguments
    (``Summary.Value`` protocol buffers) to the run's recorder."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def op(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if recording() is not None:
                with guarded(EVENTS):
                    _record(convert, args, kwargs)
            return result

        return op

    return make


def _record(
    convert: Callable[..., list[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    from tensorflow.core.util import event_pb2  # type: ignore[import-untyped]
    from tensorflow.python.eager import context  # type: ignore[import-untyped]

    recorder = recording()
    if recorder is None or not context.executing_eagerly():
        return  # inside a tf.function the values do not exist yet
    writer = args[0] if args else kwargs.get("writer")
    step = args[1] if len(args) > 1 else kwargs.get("step")
    values = convert(*args[2:], **{k: v for k, v in kwargs.items() if k not in ("writer", "step")})
    if not values:
        return
    event = event_pb2.Event(step=_integer(step))
    event.summary.value.extend(values)
    recorder.record(event, _logdir(writer))


def _summary_values(tensor: Any, tag: Any, summary_metadata: Any, name: Any = None) -> list[Any]:
    """``tf.summary.write``'s op: the plugin named in the metadata says what the tensor is."""
    from tensorflow.core.framework import summary_pb2  # type: ignore[import-untyped]

    metadata = summary_pb2.SummaryMetadata.FromString(_bytes(summary_metadata))
    plugin = metadata.plugin_data.plugin_name
    tag = _text(tag)
    array = tensor.numpy()
    if plugin == "scalars":
        return [_scalar(tag, array)]
    if plugin == "histograms":
        return _histogram(tag, histogram_from_buckets(array))
    if plugin == "images":
        return _images(image_samples(tag, array.ravel().tolist()))
    if plugin == "text":
        value = summary_pb2.Summary.Value(tag=tag, metadata=metadata)
        value.tensor.dtype = _DT_STRING
        value.tensor.string_val.extend(text_lines(array))
        return [value]
    return []  # audio, PR curves, hparams, graphs…: left to the event file


def _scalar_values(tag: Any, value: Any, name: Any = None) -> list[Any]:
    return [_scalar(_text(tag), value.numpy())]


def _histogram_values(tag: Any, values: Any, name: Any = None) -> list[Any]:
    return _histogram(_text(tag), histogram_of_values(values.numpy()))


def _image_values(
    tag: Any, tensor: Any, bad_color: Any = None, max_images: int = 3, name: Any = None
) -> list[Any]:
    """The older image op is given pixels, ``[n, height, width, channels]``: encoded here
    (with Pillow, as events are read back with it)."""
    import numpy as np
    from PIL import Image

    pixels = tensor.numpy()
    if pixels.dtype != np.uint8:  # floats in 0..1, as TensorFlow's own encoder takes them
        pixels = (np.clip(pixels, 0.0, 1.0) * 255).round().astype(np.uint8)
    encoded = []
    for image in pixels[:max_images]:
        buffer = io.BytesIO()
        Image.fromarray(image[:, :, 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
        encoded.append(buffer.getvalue())
    tag = _text(tag)
    return _images(image_samples(tag, [b"", b"", *encoded]))


def _raw_values(tensor: Any, name: Any = None) -> list[Any]:
    """``tf.summary.experimental.write_raw_pb``: serialized ``Summary`` protocol buffers."""
    from tensorflow.core.framework import summary_pb2

    values: list[Any] = []
    for data in text_lines(tensor.numpy()):
        values.extend(summary_pb2.Summary.FromString(data).value)
    return values


def _scalar(tag: str, array: Any) -> Any:
    from tensorflow.core.framework import summary_pb2

    value = summary_pb2.Summary.Value(tag=tag)
    value.metadata.plugin_data.plugin_name = "scalars"
    if array.dtype.kind == "f" and array.dtype.itemsize <= 4:
        value.tensor.dtype = _DT_FLOAT  # shown as its shortest decimal, as a SummaryWriter's
        value.tensor.float_val.append(float(array))
    else:
        value.tensor.dtype = _DT_DOUBLE
        value.tensor.double_val.append(float(array))
    return value


def _histogram(tag: str, histogram: Histogram | None) -> list[Any]:
    from tensorflow.core.framework import summary_pb2

    if histogram is None:
        return []
    value = summary_pb2.Summary.Value(tag=tag)
    value.histo.min, value.histo.max = histogram.min, histogram.max
    value.histo.bucket_limit.extend(histogram.bucket_limit)
    value.histo.bucket.extend(histogram.bucket)
    return [value]


def _images(samples: list[tuple[str, bytes]]) -> list[Any]:
    from tensorflow.core.framework import summary_pb2

    values = []
    for tag, data in samples:
        value = summary_pb2.Summary.Value(tag=tag)
        value.image.encoded_image_string = data
        values.append(value)
    return values


# ----- writers and their log directories ----------------------------------------------


def _remembering_logdir(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_summary_file_writer(writer: Any, logdir: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(writer, logdir, *args, **kwargs)
        with guarded(EVENTS):
            from tensorflow.python.eager import context

            if context.executing_eagerly():  # else a graph's tensor: no value to read
                _logdirs[id(writer)] = _text(logdir)
        return result

    return create_summary_file_writer


def _logdir(writer: Any) -> str:
    """The log directory of the writer whose resource is ``writer``; for one created before
    the patch, the default writer's (TensorFlow's own bookkeeping), else none."""
    known = _logdirs.get(id(writer))
    if known is not None:
        return known
    try:
        from tensorflow.python.ops import summary_ops_v2

        default = summary_ops_v2._summary_state.writer
        if default is not None and default._resource is writer:
            return _text(default._init_op_fn.keywords["logdir"])
    except (AttributeError, KeyError, TypeError, ImportError):
        pass
    return ""


def _text(value: Any) -> str:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return value if isinstance(value, bytes) else str(value).encode()


def _integer(step: Any) -> int:
    return int(step.numpy()) if hasattr(step, "numpy") else int(step)


def _wrap(
    module: ModuleType, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    current = getattr(module, name)
    if getattr(current, _ORIGINAL, None) is not None:
        return  # patched already (a second Task.init in the same process)
    wrapper = functools.wraps(current)(make(current))
    setattr(wrapper, _ORIGINAL, current)
    setattr(module, name, wrapper)

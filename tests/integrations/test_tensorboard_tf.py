"""TensorFlow's ``tf.summary`` capture: its decoding of TensorFlow's summary tensors, and a
script without TensorFlow, where the capture waits for an import that never comes and breaks
nothing (TensorFlow itself is not installed for the suite)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.scripts import script_env, unique, write_script
from tests.services import ServerProcess
from tunelab.integrations.tensorboard.events import histogram_bins
from tunelab.integrations.tensorboard.tf_summary import (
    Histogram,
    histogram_from_buckets,
    histogram_of_values,
    image_samples,
    text_lines,
)
from tunelab.sdk.transport import ApiClient

WITHOUT_TENSORFLOW = """
import sys
from torch.utils.tensorboard import SummaryWriter
from tunelab import Task

task = Task.init(project_name={project!r}, task_name="no tensorflow")
print("TASK", task.id)
print("TENSORFLOW LOADED", "tensorflow" in sys.modules)
try:
    import tensorflow
except ModuleNotFoundError as exc:
    print("IMPORT FAILS", exc.name)
print("TENSORFLOW LOADED", "tensorflow" in sys.modules)
writer = SummaryWriter("runs/train")
writer.add_scalar("loss/train", 0.5, 3)
writer.close()
task.close()
print("done")
"""


def test_without_tensorflow_nothing_is_patched_and_nothing_breaks(
    server: ServerProcess, tmp_path: Path
) -> None:
    assert importlib.util.find_spec("tensorflow") is None, "the suite runs without TensorFlow"
    script = write_script(tmp_path / "code", WITHOUT_TENSORFLOW.format(project=unique("tf")))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=script.parent, env=script_env(server.url, tmp_path),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tunelab: could not capture" not in done.stderr, done.stderr
    lines = [x for x in done.stdout.splitlines() if not x.startswith(("TASK ", "Tunelab: "))]
    # Task.init did not import TensorFlow, and importing it fails as it does without Tunelab.
    assert lines == [
        "TENSORFLOW LOADED False",
        "IMPORT FAILS tensorflow",
        "TENSORFLOW LOADED False",
        "done",
    ]
    task_id = next(x for x in done.stdout.splitlines() if x.startswith("TASK ")).split()[1]
    with ApiClient(server.url) as client:
        metrics = client.get_scalars(task_id, max_points=0)["metrics"]
        task = client.get_task(task_id)
    assert (metrics["loss"]["train"]["x"], metrics["loss"]["train"]["y"]) == ([3], [0.5])
    assert task["capture_warnings"] == []


def test_histogram_buckets_are_a_histogram_of_their_right_edges() -> None:
    # tf.summary.histogram's rows: (left edge, right edge, count).
    buckets = np.array([[0.0, 1.0, 2.0], [1.0, 2.5, 3.0], [2.5, 4.0, 0.0]])
    histogram = histogram_from_buckets(buckets)
    assert histogram == Histogram(0.0, 4.0, [1.0, 2.5, 4.0], [2.0, 3.0, 0.0])
    assert histogram_bins(histogram) == ([2, 3, 0], ["1", "2.5", "4"])
    assert histogram_from_buckets(np.zeros((0, 3))) is None  # no data, no plot


def test_raw_values_make_even_buckets_of_the_finite_ones() -> None:
    values = np.array([0.0, 1.0, 1.5, 2.0, np.nan, np.inf])
    assert histogram_of_values(values, buckets=2) == Histogram(0.0, 2.0, [1.0, 2.0], [1.0, 3.0])
    histogram = histogram_of_values(np.arange(100.0).reshape(10, 10))  # any shape, flattened
    assert histogram is not None
    assert (len(histogram.bucket), sum(histogram.bucket)) == (30, 100)
    assert histogram_of_values(np.array([np.nan, -np.inf])) is None


@pytest.mark.parametrize(
    ("strings", "samples"),
    [
        ([b"24", b"16", b"png"], [("input", b"png")]),
        ([b"24", b"16", b"a", b"b"], [("input/sample_0", b"a"), ("input/sample_1", b"b")]),
        ([b"24", b"16"], []),  # an empty batch
    ],
)
def test_image_tensors_are_their_encoded_images(
    strings: list[bytes], samples: list[tuple[str, bytes]]
) -> None:
    # tf.summary.image's tensor: width, height, then each image, encoded.
    assert image_samples("input", np.array(strings, dtype=object)) == samples


def test_text_tensors_are_their_strings_in_order() -> None:
    assert text_lines(np.array(b"lr halved", dtype=object)) == [b"lr halved"]
    assert text_lines(np.array([[b"a", b"b"], [b"c", b"d"]], dtype=object)) == [
        b"a",
        b"b",
        b"c",
        b"d",
    ]
    assert text_lines(np.array(["caf\u00e9"])) == ["caf\u00e9".encode()]

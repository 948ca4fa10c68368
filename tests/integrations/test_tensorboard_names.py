"""Where TensorBoard tags land (ClearML's rule), and histograms as plot bars, on real
summaries written by tensorboardX's summary functions."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboardX import summary

from tunelab.integrations.tensorboard.events import histogram_bins
from tunelab.integrations.tensorboard.names import HISTOGRAM, IMAGE, SCALAR, Names, split_tag


@pytest.mark.parametrize(
    ("tag", "rule", "graph"),
    [
        ("loss", SCALAR, ("loss", "loss")),
        ("loss/train", SCALAR, ("loss", "train")),
        ("a/b/c", SCALAR, ("a_b", "c")),
        ("weights", HISTOGRAM, ("Histograms", "weights")),
        ("fc/weights", HISTOGRAM, ("fc", "weights")),
        ("input", IMAGE, ("Images", "input")),
        ("samples/input", IMAGE, ("samples", "input")),
        ("a/b/c", IMAGE, ("a", "b_c")),
        ("a/b/c/d", IMAGE, ("a", "b_c_d")),
        ("a/b/c/d/e", IMAGE, ("a_b", "c_d_e")),
    ],
)
def test_a_tag_splits_as_clearml_splits_it(tag: str, rule: object, graph: tuple[str, str]) -> None:
    assert split_tag(tag, rule) == graph  # type: ignore[arg-type]


def test_a_second_writer_of_the_same_tag_gets_its_own_series() -> None:
    names = Names()
    assert names.of(SCALAR, "runs/exp/train", "loss") == ("loss", "loss")
    assert names.of(SCALAR, "runs/exp/val", "loss") == ("loss", "val: loss")
    assert names.of(SCALAR, "runs/exp/train", "loss") == ("loss", "loss")  # stays the first's
    assert names.of(HISTOGRAM, "runs/exp/val", "w") == ("Histograms", "w")
    assert names.of(HISTOGRAM, "runs/exp/train", "w") == ("Histograms", "w :train")
    assert names.of(IMAGE, "runs/a", "x") == ("Images", "x")
    assert names.of(IMAGE, "runs/b", "x") == ("Images b", "x")
    # add_scalars: the main tag whole is the title, the key the series.
    assert names.of(SCALAR, "runs/exp/train/acc_top", "acc/top", "top1") == ("acc/top", "top1")


def test_a_histogram_becomes_at_most_fifty_bars() -> None:
    values = np.random.default_rng(1).normal(size=2000)
    many = summary.histogram("w", values, bins=np.linspace(-5, 5, 301)).value[0].histo
    counts, labels = histogram_bins(many)
    assert len(counts) == len(labels) == 50
    assert sum(counts) == 2000 and all(isinstance(c, int) for c in counts)
    assert float(labels[-1]) == pytest.approx(values.max(), rel=1e-3)
    few = summary.histogram("w", np.array([1.0, 2.0, 2.0, 3.0]), bins=3).value[0].histo
    counts, labels = histogram_bins(few)
    assert sum(counts) == 4 and len(counts) == len(labels) <= 4

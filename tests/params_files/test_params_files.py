"""Parameter files read into typed values and written back keeping their format."""

from __future__ import annotations

import json

import pytest

from tunelab.errors import InvalidInput
from tunelab.params_files import apply_overrides, flat_params, read_params

YAML = """\
# Training parameters
base: &base
  lr: 0.1  # learning rate
  epochs: 10
train:
  <<: *base
  epochs: 20
  layers: [64, 32]
  name: "resnet"
  dropout: null
  use_amp: true
prepare:
  split: 0.2
  seed: 42
"""

TOML = """\
# model settings
title = "run"

[train]
lr = 0.1 # learning rate
epochs = 10
opt = { name = "adam", beta = 0.9 }

[data]
paths = ["a.csv", "b.csv"]
"""

JSON = """{
    "train": {
        "lr": 0.1,
        "epochs": 10
    },
    "seed": 42
}
"""

PYTHON = """\
\"\"\"Hyperparameters.\"\"\"
import os

LR = 0.1  # learning rate
LAYERS = [
    64,  # first
    32,
]
OPT = {"name": 'adam', "beta": 0.9}
NAME = "résumé"
STEPS = LAYERS[0] * 10  # computed: not a parameter
_PRIVATE = 1
DEBUG: bool = False
"""


def test_yaml_reads_typed_values_through_anchors() -> None:
    flat = flat_params("params.yaml", YAML)
    assert flat["train.lr"].value == 0.1 and flat["train.lr"].type == "float"
    assert flat["train.epochs"].value == 20 and flat["train.epochs"].type == "int"
    assert flat["train.layers"].type == "list" and flat["train.layers"].value == [64, 32]
    assert flat["train.dropout"].type == "NoneType"
    assert flat["train.use_amp"].type == "bool"
    assert flat["base.lr"].value == 0.1
    assert list(flat)[:2] == ["base.lr", "base.epochs"]


def test_yaml_round_trip_keeps_comments_anchors_and_order() -> None:
    assert apply_overrides("params.yaml", YAML, {}) == YAML
    written = apply_overrides(
        "params.yaml", YAML, {"prepare.seed": "7", "train.name": "vit", "base.lr": 0.01}
    )
    assert written == YAML.replace("seed: 42", "seed: 7").replace('"resnet"', '"vit"').replace(
        "lr: 0.1  #", "lr: 0.01 #"
    )  # the comment keeps its column
    # The alias still follows the anchor: the merged train.lr is the new one.
    assert read_params("params.yaml", written)["train"]["lr"] == 0.01


def test_toml_round_trip_keeps_comments_and_inline_tables() -> None:
    assert read_params("s.toml", TOML)["train"]["opt"] == {"name": "adam", "beta": 0.9}
    written = apply_overrides(
        "s.toml", TOML, {"train.opt.beta": 0.99, "train.epochs": 12, "data.paths": ["c.csv"]}
    )
    assert written == (
        TOML.replace("beta = 0.9", "beta = 0.99")
        .replace("epochs = 10", "epochs = 12")
        .replace('paths = ["a.csv", "b.csv"]', 'paths = ["c.csv"]')
    )


def test_json_round_trip_keeps_indent_and_order() -> None:
    written = apply_overrides("config.json", JSON, {"train.lr": "0.5"})
    assert written == JSON.replace("0.1", "0.5")
    compact = '{"b": 1, "a": 2}'
    assert apply_overrides("c.json", compact, {"a": 3}) == '{"b": 1, "a": 3}'
    assert json.loads(apply_overrides("c.json", compact, {"n.x": 1}, allow_new=True)) == {
        "b": 1,
        "a": 2,
        "n": {"x": 1},
    }


def test_python_constants_are_read_and_rewritten_in_place() -> None:
    flat = flat_params("hparams.py", PYTHON)
    assert set(flat) == {"LR", "LAYERS", "OPT.name", "OPT.beta", "NAME", "DEBUG"}
    assert flat["LAYERS"].value == [64, 32] and flat["DEBUG"].type == "bool"
    written = apply_overrides(
        "hparams.py",
        PYTHON,
        {"LR": 0.02, "LAYERS": [128, 64, 32], "OPT.name": "sgd", "NAME": "naïve", "DEBUG": "true"},
    )
    expected = (
        PYTHON.replace("LR = 0.1  #", "LR = 0.02  #")
        .replace("[\n    64,  # first\n    32,\n]", "[128, 64, 32]")
        .replace("'adam'", "'sgd'")
        .replace('"résumé"', '"naïve"')
        .replace("DEBUG: bool = False", "DEBUG: bool = True")
    )
    assert written == expected
    # Only the changed span moves: a comment next to an unchanged value stays.
    one = apply_overrides("hparams.py", PYTHON, {"OPT.beta": 0.5})
    assert one == PYTHON.replace('"beta": 0.9', '"beta": 0.5')


def test_python_spans_count_lines_as_python_does() -> None:
    text = "A = 1\x0c  # a form feed\r\nB = 'x'\n"
    assert apply_overrides("h.py", text, {"B": "y"}) == text.replace("'x'", "'y'")


def test_python_new_keys_when_asked() -> None:
    written = apply_overrides(
        "hparams.py", PYTHON, {"BATCH": 32, "OPT.momentum": 0.9}, allow_new=True
    )
    tree = read_params("hparams.py", written)
    assert tree["BATCH"] == 32 and tree["OPT"]["momentum"] == 0.9
    assert written.startswith(PYTHON.split("OPT =")[0])


@pytest.mark.parametrize(
    ("file", "text", "key", "value", "says"),
    [
        ("params.yaml", YAML, "train.epochs", "ten", "train.epochs must be int"),
        ("params.yaml", YAML, "train.epochs", 2.5, "train.epochs must be int"),
        ("params.yaml", YAML, "train.use_amp", "maybe", "train.use_amp must be bool"),
        ("params.yaml", YAML, "train.layers", {"a": 1}, "train.layers must be list"),
        ("s.toml", TOML, "train.lr", "fast", "train.lr must be float"),
        ("hparams.py", PYTHON, "LR", [1], "LR must be float"),
        ("config.json", JSON, "seed", True, "seed must be int"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_key(
    file: str, text: str, key: str, value: object, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        apply_overrides(file, text, {key: value})


@pytest.mark.parametrize(
    ("file", "text"),
    [("params.yaml", YAML), ("s.toml", TOML), ("config.json", JSON), ("hparams.py", PYTHON)],
)
def test_an_unknown_key_is_refused_unless_new_keys_are_allowed(file: str, text: str) -> None:
    with pytest.raises(InvalidInput, match=r"has no parameter 'train\.momentum'|'momentum'"):
        apply_overrides(file, text, {"train.momentum": 0.9})
    written = apply_overrides(file, text, {"momentum": 0.9}, allow_new=True)
    assert read_params(file, written)["momentum"] == 0.9


def test_unreadable_files_are_invalid_input() -> None:
    for file, text in [
        ("params.yaml", "a: [1"),
        ("c.json", "{"),
        ("s.toml", "a = "),
        ("h.py", "LR = ("),
    ]:
        with pytest.raises(InvalidInput, match=file):
            read_params(file, text)
    with pytest.raises(InvalidInput, match="not a parameter file"):
        read_params("params.ini", "")

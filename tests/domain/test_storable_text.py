"""Text every store holds: a NUL and half a surrogate pair become U+FFFD, everywhere in a
value the SDK sends in the background, and nothing else changes."""

from __future__ import annotations

from collections import namedtuple

from tunelab.domain.series_names import MAX_NAME_LENGTH, name_problem
from tunelab.domain.storable_text import storable, storable_text


def test_a_nul_and_half_a_surrogate_pair_become_the_replacement_character() -> None:
    assert storable_text("loss\x00/a\udcff") == "loss\ufffd/a\ufffd"
    assert storable_text("\ud83d\ude00") == "\ufffd\ufffd"  # two halves are still halves
    assert storable_text("😀 é \t plain") == "😀 é \t plain"  # whole characters stay
    assert storable_text(12) == "12"


def test_a_value_is_cleaned_throughout_and_copied() -> None:
    pair = namedtuple("pair", "name value")
    given = {"lr\x00": [1, "a\udcff", {"k": ("x\x00", pair("n", "v\x00"))}], "ok": 2.5}
    assert storable(given) == {
        "lr\ufffd": [1, "a\ufffd", {"k": ("x\ufffd", ["n", "v\ufffd"])}],
        "ok": 2.5,
    }
    assert given["lr\x00"][1] == "a\udcff"  # the caller's value is left as it was


def test_a_series_name_is_one_to_512_characters() -> None:
    assert name_problem("") == "is empty"
    assert name_problem("x" * (MAX_NAME_LENGTH + 1)) == "is longer than 512 characters"
    assert name_problem("x" * MAX_NAME_LENGTH) is None

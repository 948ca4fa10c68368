"""Artifact objects to one file and back: each kind round-trips and previews what a user needs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from PIL import Image

from tunelab.errors import InvalidInput
from tunelab.sdk.artifact_formats import Packed, pack, pack_dataframe, unpack


def round_trip(packed: Packed) -> Any:
    return unpack(packed.path, packed.type, packed.format)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


def features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loss": [0.31, 0.25, 1 / 3, 0.125, 0.5, 0.75, 0.0625],
            "epoch": [1, 2, 3, 4, 5, 6, 7],
            "label": ["cat", "dog", "cat", "bird", "dog", "cat", "fish"],
            "ok": [True, False, True, True, False, True, False],
        },
        index=pd.Index([10, 11, 12, 13, 14, 15, 16], name="sample"),
    )


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self) -> str:
        return f"Point({self.x}, {self.y})"


# --- dict and list --------------------------------------------------------------------------


def test_a_dict_is_json_and_previews_its_keys(workdir: Path) -> None:
    config = {"lr": 0.1, "classes": ["cat", "dog"], "nested": {"depth": 3}, "name": "résumé"}
    packed = pack(config, workdir, "config")
    assert (packed.path, packed.type, packed.format) == (workdir / "config.json", "dict", "json")
    assert json.loads(packed.path.read_text(encoding="utf-8")) == config
    assert round_trip(packed) == config
    first_line, keys_line = packed.preview.splitlines()[:2]
    assert first_line.startswith("dict, 4 keys, ") and first_line.endswith("bytes as JSON")
    assert keys_line == "keys: lr, classes, nested, name"


def test_a_list_is_json_and_previews_its_length_and_first_items(workdir: Path) -> None:
    items = [{"id": i, "score": i / 10} for i in range(12)]
    packed = pack(items, workdir, "scores")
    assert (packed.type, packed.format) == ("list", "json")
    assert round_trip(packed) == items
    assert packed.preview.startswith("list, 12 items")
    assert "first items: [{'id': 0, 'score': 0.0}, {'id': 1, 'score': 0.1}" in packed.preview


def test_a_dict_that_json_would_change_is_pickled_and_comes_back_equal(workdir: Path) -> None:
    labels = {0: "cat", 1: "dog"}  # JSON would turn the keys into "0" and "1"
    packed = pack(labels, workdir, "labels")
    assert (packed.type, packed.format) == ("dict", "pickle")
    assert packed.metadata == {"serialization": "pickle", "class": "builtins.dict"}
    assert round_trip(packed) == labels
    assert "keys: 0, 1" in packed.preview

    shapes = [(3, 224, 224), float("nan")]
    packed = pack(shapes, workdir, "shapes")
    assert (packed.type, packed.format) == ("list", "pickle")
    assert repr(round_trip(packed)) == repr(shapes)


def test_a_long_preview_is_clipped(workdir: Path) -> None:
    packed = pack({f"key_{i}": "x" * 50 for i in range(500)}, workdir, "big")
    assert len(packed.preview) <= 2000
    assert packed.preview.startswith("dict, 500 keys")
    assert packed.preview.endswith("...")


# --- pandas ---------------------------------------------------------------------------------


def test_a_dataframe_is_parquet_with_its_index_and_dtypes(workdir: Path) -> None:
    df = features()
    packed = pack(df, workdir, "features")
    assert (packed.path, packed.type, packed.format) == (
        workdir / "features.parquet",
        "dataframe",
        "parquet",
    )
    back = round_trip(packed)
    assert isinstance(back, pd.DataFrame)
    assert_frame_equal(back, df)
    assert dict(back.dtypes.astype(str)) == dict(df.dtypes.astype(str))


def test_a_dataframe_preview_has_the_shape_and_first_rows(workdir: Path) -> None:
    preview = pack(features(), workdir, "features").preview
    lines = preview.splitlines()
    assert lines[0] == "DataFrame shape=(7, 4)"
    assert "loss" in lines[1] and "label" in lines[1]
    assert "sample" in lines[2]
    assert lines[3].split() == ["10", "0.310000", "1", "cat", "True"]
    assert len(lines) == 3 + 5  # header lines, then five rows
    assert "fish" not in preview


def test_the_csv_fallback_keeps_the_index(workdir: Path) -> None:
    df = features()
    packed = pack_dataframe(df, workdir, "features", parquet=False)
    assert (packed.path.name, packed.type, packed.format) == (
        "features.csv.gz",
        "dataframe",
        "csv.gz",
    )
    assert_frame_equal(round_trip(packed), df)


def test_without_pyarrow_a_dataframe_is_csv_gz(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path

        class NoPyarrow:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "pyarrow":
                    raise ModuleNotFoundError("No module named 'pyarrow'", name=name)
                return None

        sys.meta_path.insert(0, NoPyarrow())
        import pandas as pd
        from pandas.testing import assert_frame_equal
        from tunelab.sdk.artifact_formats import pack, unpack

        df = pd.DataFrame({{"loss": [0.5, 1 / 3], "label": ["a", "b"]}},
                          index=pd.Index(["x", "y"], name="key"))
        packed = pack(df, Path({str(tmp_path)!r}), "table")
        back = unpack(packed.path, packed.type, packed.format)
        assert_frame_equal(back, df)
        print(json.dumps({{"file": packed.path.name, "format": packed.format,
                          "pyarrow": "pyarrow" in sys.modules}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "file": "table.csv.gz",
        "format": "csv.gz",
        "pyarrow": False,
    }


def test_a_dataframe_the_file_format_would_change_is_pickled(workdir: Path) -> None:
    numbered = pd.DataFrame({0: [1, 2], "b": [3, 4]})  # parquet writes 0 as "0"
    packed = pack(numbered, workdir, "numbered")
    assert (packed.type, packed.format) == ("dataframe", "pickle")
    assert packed.preview.startswith("DataFrame shape=(2, 2)")
    assert_frame_equal(round_trip(packed), numbered)

    dated = pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-06-30"])})
    packed = pack_dataframe(dated, workdir, "dated", parquet=False)  # CSV would give text
    assert packed.format == "pickle"
    assert_frame_equal(round_trip(packed), dated)


# --- numpy and images -----------------------------------------------------------------------


def test_an_array_is_npz(workdir: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    packed = pack(array, workdir, "weights")
    assert (packed.path.name, packed.type, packed.format) == ("weights.npz", "numpy", "npz")
    assert packed.preview.startswith("shape=(3, 4) dtype=float32\n[[ 0.  1.  2.  3.]")
    assert packed.metadata == {"shape": "(3, 4)", "dtype": "float32"}
    back = round_trip(packed)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, array)


def test_an_array_of_objects_is_pickled(workdir: Path) -> None:
    array = np.array([{"a": 1}, None], dtype=object)
    packed = pack(array, workdir, "ragged")
    assert (packed.type, packed.format) == ("numpy", "pickle")
    assert packed.preview.startswith("shape=(2,) dtype=object")
    assert list(round_trip(packed)) == [{"a": 1}, None]


def test_an_image_is_png(workdir: Path) -> None:
    image = Image.new("RGB", (8, 5), (200, 30, 10))
    image.putpixel((3, 2), (0, 255, 0))
    packed = pack(image, workdir, "sample image")
    assert (packed.path.name, packed.type, packed.format) == ("sample_image.png", "image", "png")
    assert packed.preview == "image 8x5, mode RGB"
    back = round_trip(packed)
    assert isinstance(back, Image.Image)
    assert (back.size, back.mode, back.tobytes()) == (image.size, image.mode, image.tobytes())


def test_an_image_png_cannot_hold_is_pickled(workdir: Path) -> None:
    image = Image.new("CMYK", (2, 2), (1, 2, 3, 4))
    packed = pack(image, workdir, "print")
    assert (packed.type, packed.format) == ("image", "pickle")
    back = round_trip(packed)
    assert isinstance(back, Image.Image) and back.tobytes() == image.tobytes()


# --- files and folders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "expected_format"),
    [("model.pt", "pt"), ("weights.tar.gz", "tar.gz"), ("v1.2.CSV", "csv"), ("LICENSE", "")],
)
def test_a_file_is_uploaded_as_it_is(
    tmp_path: Path, workdir: Path, file_name: str, expected_format: str
) -> None:
    file = tmp_path / file_name
    file.write_bytes(b"x" * 1500)
    packed = pack(str(file), workdir, "weights")
    assert packed == Packed(file, "file", expected_format, f"{file_name}, 1.5 kB", {})
    assert not workdir.exists()  # nothing copied
    assert round_trip(packed) == file


def test_a_relative_path_and_a_path_object_name_the_file(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    monkeypatch.chdir(tmp_path)
    assert pack("notes.txt", workdir, "notes").path == tmp_path / "notes.txt"
    assert pack(Path("notes.txt"), workdir, "notes").path == tmp_path / "notes.txt"


def test_a_folder_is_zipped_and_extracted(tmp_path: Path) -> None:
    data = tmp_path / "dataset"
    (data / "train").mkdir(parents=True)
    (data / "empty").mkdir()
    (data / "train" / "a.txt").write_text("alpha")
    (data / "train" / "b.txt").write_text("beta" * 500)
    (data / "labels.csv").write_text("a,0\nb,1\n")
    workdir = data / "upload"  # a zip written inside the folder it zips must not zip itself
    packed = pack(data, workdir, "dataset")
    assert (packed.path, packed.type, packed.format) == (workdir / "dataset.zip", "folder", "zip")
    assert packed.preview.splitlines() == [
        "folder dataset: 3 files, 2.0 kB",
        "labels.csv",
        "train/a.txt",
        "train/b.txt",
    ]
    assert packed.metadata == {"files": "3"}

    target = tmp_path / "restored"
    assert unpack(packed.path, "folder", "zip", extract_to=target) == target
    assert (target / "train" / "b.txt").read_text() == "beta" * 500
    assert (target / "empty").is_dir()
    assert not (target / "upload").exists()
    beside = unpack(packed.path, "folder", "zip")
    assert beside == workdir / "dataset"
    assert sorted(p.relative_to(beside).as_posix() for p in beside.rglob("*.*")) == [
        "labels.csv",
        "train/a.txt",
        "train/b.txt",
    ]


def test_a_folder_preview_lists_only_the_first_names(tmp_path: Path, workdir: Path) -> None:
    data = tmp_path / "shards"
    data.mkdir()
    for i in range(30):
        (data / f"shard-{i:02d}.bin").write_bytes(b"\0" * 10)
    lines = pack(str(data), workdir, "shards").preview.splitlines()
    assert lines[0] == "folder shards: 30 files, 300 bytes"
    assert lines[1:3] == ["shard-00.bin", "shard-01.bin"]
    assert lines[-1] == "..."
    assert len(lines) == 1 + 20 + 1


@pytest.mark.parametrize("missing", ["modle.pt", Path("no/such/folder"), ""])
def test_a_path_that_names_nothing_is_refused(
    tmp_path: Path, workdir: Path, missing: str | Path
) -> None:
    with pytest.raises(InvalidInput, match="no file or folder exists at") as caught:
        pack(missing, workdir, "model")
    assert "'model'" in caught.value.message
    assert not workdir.exists()


def test_a_wildcard_zips_the_matching_files_under_its_folder(tmp_path: Path, workdir: Path) -> None:
    shots = tmp_path / "shots"
    (shots / "deep").mkdir(parents=True)
    for name in ("a.jpg", "b.png", "deep/c.jpg"):
        (shots / name).write_bytes(b"x" * 10)
    packed = pack(f"{shots}/*.jpg", workdir, "jpgs")
    assert (packed.path.name, packed.type, packed.format) == ("jpgs.zip", "folder", "zip")
    assert packed.metadata == {"files": "2"}
    assert packed.preview.splitlines() == [
        f"{shots}/*.jpg: 2 files, 20 bytes",
        "a.jpg",
        "deep/c.jpg",
    ]
    extracted = unpack(packed.path, "folder", "zip", extract_to=tmp_path / "out")
    assert sorted(p.relative_to(extracted).as_posix() for p in extracted.rglob("*.jpg")) == [
        "a.jpg",
        "deep/c.jpg",
    ]
    assert not list(extracted.rglob("*.png"))


@pytest.mark.parametrize(
    ("pattern", "why"),
    [("shots/*.gif", "no file matches"), ("*/x.jpg", "only in its last part"),
     ("nowhere/*.jpg", "only in its last part")],
)  # fmt: skip
def test_a_wildcard_without_matches_or_folder_is_refused(
    tmp_path: Path, workdir: Path, pattern: str, why: str
) -> None:
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "a.jpg").write_bytes(b"x")
    with pytest.raises(InvalidInput, match=why):
        pack(f"{tmp_path}/{pattern}", workdir, "jpgs")


# --- pickle ---------------------------------------------------------------------------------


def test_another_object_is_pickled_with_its_class(workdir: Path) -> None:
    packed = pack(Point(1, 2), workdir, "origin")
    assert (packed.path.name, packed.type, packed.format) == ("origin.pkl", "pickle", "pickle")
    assert packed.metadata == {
        "serialization": "pickle",
        "class": f"{__name__}.Point",
    }
    assert packed.preview.startswith(f"{__name__}.Point object, ")
    assert packed.preview.endswith("as pickle\nPoint(1, 2)")
    assert round_trip(packed) == Point(1, 2)


def test_an_object_that_cannot_be_pickled_is_refused(workdir: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        pack({"lock": threading.Lock()}, workdir, "state")
    message = caught.value.message
    assert message.startswith("Cannot upload artifact 'state': a builtins.dict object cannot")
    assert "cannot pickle '_thread.lock' object" in message
    assert list(workdir.iterdir()) == []  # no half-written file left behind


def test_file_names_are_safe(workdir: Path) -> None:
    packed = pack([1, 2], workdir, "../eval/top 5%: ok?")
    assert packed.path.parent == workdir
    assert packed.path.name == "_eval_top_5_ok_.json"
    assert pack([1], workdir, "..").path.name == "artifact.json"


# --- import weight --------------------------------------------------------------------------


def test_packing_plain_objects_imports_no_heavy_library(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        import tunelab
        from tunelab.sdk.artifact_formats import pack, unpack

        work = Path({str(tmp_path)!r})
        for name, obj in [("d", {{"a": 1}}), ("l", [1, 2]), ("p", complex(1, 2))]:
            packed = pack(obj, work, name)
            unpack(packed.path, packed.type, packed.format)
        heavy = ("pandas", "numpy", "PIL", "pyarrow", "joblib", "torch")
        print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] in heavy)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []

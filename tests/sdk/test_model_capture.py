"""joblib.dump and torch.save capture, in real script processes that print what was reported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

# Each script records the callback's arguments and ends with report(...), one JSON line.
PREAMBLE = """\
import inspect, io, json, sys
from pathlib import Path
from tunelab.sdk.model_capture import install_model_capture

saved = []

def on_saved(path, framework):
    saved.append([str(path), framework, path.is_absolute()])

def report(**values):
    print(json.dumps({"saved": saved, **values}))
"""


def run(folder: Path, body: str) -> tuple[dict[str, Any], str]:
    script = folder / "train.py"
    script.write_text(PREAMBLE + textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_joblib_imported_before_install(tmp_path: Path) -> None:
    result, stderr = run(
        tmp_path,
        """
        import joblib
        original = joblib.dump
        install_model_capture(on_saved)
        returned = joblib.dump({"weights": [1, 2]}, "model.joblib")
        Path("models").mkdir()
        joblib.dump([3], Path("models") / "other.pkl")
        joblib.dump([4], io.BytesIO())
        with open("handle.pkl", "wb") as handle:
            joblib.dump([5], handle)
        report(
            returned=returned,
            wrapped=joblib.dump is not original and joblib.dump.__wrapped__ is original,
            name=joblib.dump.__name__,
            doc=joblib.dump.__doc__ == original.__doc__,
            signature=str(inspect.signature(joblib.dump)),
            loaded=joblib.load("model.joblib"),
        )
        """,
    )
    assert result["saved"] == [
        [str(tmp_path / "model.joblib"), "ScikitLearn", True],
        [str(tmp_path / "models" / "other.pkl"), "ScikitLearn", True],
    ]
    assert result["returned"] == ["model.joblib"]
    assert result["wrapped"] is True
    assert result["name"] == "dump" and result["doc"] is True
    assert result["signature"] == "(value, filename, compress=0, protocol=None)"
    assert result["loaded"] == {"weights": [1, 2]}
    assert stderr == ""


def test_joblib_imported_after_install(tmp_path: Path) -> None:
    result, _ = run(
        tmp_path,
        """
        install_model_capture(on_saved)
        imported_early = "joblib" in sys.modules or "torch" in sys.modules
        import importlib.resources
        import joblib
        joblib.dump({"a": 1}, filename="model.joblib")
        report(
            imported_early=imported_early,
            loader=type(joblib.__loader__).__name__,
            spec_loader=type(joblib.__spec__.loader).__name__,
            resources=importlib.resources.files("joblib").joinpath("__init__.py").is_file(),
        )
        """,
    )
    assert result["saved"] == [[str(tmp_path / "model.joblib"), "ScikitLearn", True]]
    assert result["imported_early"] is False  # installing imports neither library
    assert result["loader"] == result["spec_loader"] == "SourceFileLoader"
    assert result["resources"] is True


@pytest.mark.slow
def test_torch_imported_after_install(tmp_path: Path) -> None:
    result, stderr = run(
        tmp_path,
        """
        install_model_capture(on_saved)
        import torch

        model = torch.nn.Linear(3, 2)
        returned = torch.save(model.state_dict(), "net.pt")
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        restored = torch.nn.Linear(3, 2)
        restored.load_state_dict(torch.load("net.pt"))
        report(
            returned=returned,
            name=torch.save.__name__,
            signature=inspect.signature(torch.save) == inspect.signature(torch.serialization.save),
            same=bool(torch.equal(restored.weight, model.weight)),
            buffered=len(buffer.getvalue()) > 0,
        )
        """,
    )
    assert result["saved"] == [[str(tmp_path / "net.pt"), "PyTorch", True]]
    assert result["returned"] is None
    assert result["name"] == "save" and result["signature"] is True
    assert result["same"] is True and result["buffered"] is True
    assert stderr == ""


def test_a_failing_callback_does_not_break_the_save(tmp_path: Path) -> None:
    result, stderr = run(
        tmp_path,
        """
        def broken(path, framework):
            raise RuntimeError("server away")

        install_model_capture(broken)
        import joblib
        returned = joblib.dump([1, 2, 3], "model.joblib")
        report(returned=returned, loaded=joblib.load("model.joblib"))
        """,
    )
    assert result["returned"] == ["model.joblib"]
    assert result["loaded"] == [1, 2, 3]
    assert stderr.splitlines() == [
        f"tunelab: could not capture the model {tmp_path / 'model.joblib'}: "
        "RuntimeError: server away"
    ]


def test_a_failing_save_raises_as_before_and_is_not_reported(tmp_path: Path) -> None:
    result, _ = run(
        tmp_path,
        """
        install_model_capture(on_saved)
        import joblib
        try:
            joblib.dump([1], "no/such/folder/model.joblib")
        except FileNotFoundError as exc:
            error = type(exc).__name__
        report(error=error)
        """,
    )
    assert result == {"saved": [], "error": "FileNotFoundError"}


def test_installing_twice_wraps_once_and_swaps_the_callback(tmp_path: Path) -> None:
    result, _ = run(
        tmp_path,
        """
        import joblib
        first = []
        install_model_capture(lambda path, framework: first.append(str(path)))
        install_model_capture(on_saved)
        joblib.dump([1], "model.joblib")
        report(first=first, once=joblib.dump.__wrapped__ is joblib.numpy_pickle.dump)
        """,
    )
    assert result["saved"] == [[str(tmp_path / "model.joblib"), "ScikitLearn", True]]
    assert result["first"] == []
    assert result["once"] is True


@pytest.mark.parametrize("imported", ["before", "after"])
def test_uninstall_restores_the_originals(tmp_path: Path, imported: str) -> None:
    result, _ = run(
        tmp_path,
        f"""
        if {imported == "before"}:
            import joblib
        uninstall = install_model_capture(on_saved)
        finders = len(sys.meta_path)
        uninstall()
        uninstall()  # twice is harmless
        import joblib
        joblib.dump([1], "model.joblib")
        report(
            restored=joblib.dump is joblib.numpy_pickle.dump,
            finder_removed=len(sys.meta_path) == finders - 1,
        )
        """,
    )
    assert result == {"saved": [], "restored": True, "finder_removed": True}


def test_only_the_libraries_named_are_watched_and_joblib_names_the_library_saved(
    tmp_path: Path,
) -> None:
    result, _ = run(
        tmp_path,
        """
        import joblib, pickle
        import lightgbm
        install_model_capture(on_saved, ["joblib"])
        joblib.dump(lightgbm.LGBMClassifier(), "gbm.joblib")
        with open("pickled.pkl", "wb") as handle:
            pickle.dump({"a": 1}, handle)           # pickle is never watched
        install_model_capture(on_saved, ["torch"])  # joblib switched off
        joblib.dump({"a": 1}, "off.joblib")
        report()
        """,
    )
    assert result["saved"] == [[str(tmp_path / "gbm.joblib"), "LightGBM", True]]

"""``tunelab import tensorboard``: event files written by PyTorch's SummaryWriter, imported
into a real server and compared with what TensorBoard's own reader finds in them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.importers.conftest import Interrupted, StopInRun, project_tasks, source_of
from tests.scripts import script_env, unique
from tunelab.importers.tensorboard import import_logdir
from tunelab.sdk.transport import ApiClient

RUNS = ("baseline", "wide")


def write_logdir(root: Path) -> Path:
    """Two runs, each with every kind of summary the importer reads."""
    from torch.utils.tensorboard import SummaryWriter

    for number, run in enumerate(RUNS):
        writer = SummaryWriter(str(root / run))
        for step in range(40):
            writer.add_scalar("loss/train", 1.0 / (step + 1) + number, step)
            writer.add_scalar("accuracy", step / 40, step)
        writer.add_scalars("lr", {"head": 0.1, "body": 0.01 * (number + 1)}, 0)
        writer.add_histogram("weights", np.arange(100.0) * (number + 1), 3)
        writer.add_image("input", np.ones((3, 4, 4)) * 0.5, 2)
        writer.add_text("note", f"run {run}", 1)
        writer.add_hparams({"lr": 0.1 * (number + 1), "batch": 32, "opt": "adam"}, {"hp/acc": 0.9})
        writer.close()
    return root


def source_scalars(folder: Path) -> dict[tuple[str, str], tuple[list[int], list[float]]]:
    """What TensorBoard's own reader holds for the run's plain scalar tags."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    found = {}
    for tag, graph in (("loss/train", ("loss", "train")), ("accuracy", ("accuracy", "accuracy"))):
        points = events.Scalars(tag)
        found[graph] = ([p.step for p in points], [p.value for p in points])
    return found


def test_import_every_kind_then_nothing_more(
    client: ApiClient, api_url: str, tmp_path: Path
) -> None:
    logdir = write_logdir(tmp_path / "runs")
    project = unique("tb-import")
    done = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "import", "tensorboard", str(logdir),
         "--project", project],
        env=script_env(api_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 2 run(s) (166 scalar points), skipped 0, failed 0")

    tasks = {t["name"]: t for t in project_tasks(client, project)}
    assert sorted(tasks) == list(RUNS)
    for number, run in enumerate(RUNS):
        task = tasks[run]
        assert task["status"] == "completed" and source_of(task) == f"tensorboard:{logdir / run}"
        stored = client.get_scalars(task["id"], max_points=0)["metrics"]
        for (title, series), (steps, values) in source_scalars(logdir / run).items():
            assert stored[title][series]["x"] == steps
            assert stored[title][series]["y"] == values  # float32 values, bit for bit
        assert stored["lr"]["body"]["y"] == [float(np.float32(0.01 * (number + 1)))]
        assert stored["hp"]["acc"]["y"] == [float(np.float32(0.9))]
        hparams = task["hyperparameters"]["TB_hparams"]
        assert {k: (v["value"], v["type"]) for k, v in hparams.items()} == {
            "lr": (str(0.1 * (number + 1)), "float"),
            "batch": ("32", "int"),
            "opt": ("adam", "str"),
        }
        (plot,) = client.get_plots(task["id"])["plots"]
        assert (plot["title"], plot["series"], plot["iteration"]) == ("Histograms", "weights", 3)
        assert sum(plot["data"]["values"][0]) == 100
        (sample,) = client.get_debug_samples(task["id"])["samples"]
        assert (sample["title"], sample["series"], sample["iteration"]) == ("Images", "input", 2)
        assert sample["mime"] == "image/png"
        lines = [line["text"] for line in client.get_console(task["id"])["lines"]]
        assert lines == [f"SUMMARY LOG: note run {run}"]

    again = import_logdir(client, logdir, project)
    assert again.imported == [] and len(again.skipped) == 2
    assert "imported already" in again.skipped[0][1]
    assert len(project_tasks(client, project)) == 2


def test_an_import_stopped_half_way_resumes_without_duplicates(
    client: ApiClient, tmp_path: Path
) -> None:
    logdir = write_logdir(tmp_path / "runs")
    project = unique("tb-resume")
    with pytest.raises(Interrupted):
        import_logdir(client, logdir, project, progress=StopInRun(2))
    left = {t["name"]: t for t in project_tasks(client, project)}
    assert left["wide"]["user_properties"]["import_state"]["value"] == "partial"
    assert client.get_scalars(left["wide"]["id"], max_points=0)["metrics"]  # half-written

    resumed = import_logdir(client, logdir, project)
    assert [label for label, _, _ in resumed.imported] == ["wide"]
    assert [label for label, _ in resumed.skipped] == ["baseline"]
    tasks = project_tasks(client, project)
    assert sorted(t["name"] for t in tasks) == list(RUNS)
    for task in tasks:
        assert task["user_properties"]["import_state"]["value"] == "complete"
        stored = client.get_scalars(task["id"], max_points=0)["metrics"]
        assert len(stored["loss"]["train"]["x"]) == 40
        assert len(client.get_plots(task["id"])["plots"]) == 1


def test_a_damaged_run_fails_alone(client: ApiClient, tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "runs" / "good"))
    writer.add_scalar("loss", 0.5, 1)
    writer.close()
    (tmp_path / "runs" / "broken").mkdir()
    damaged = tmp_path / "runs" / "broken" / "events.out.tfevents.1.host"
    damaged.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a record at all, not a crc")
    project = unique("tb-damaged")

    summary = import_logdir(client, tmp_path / "runs", project)
    assert [label for label, _, _ in summary.imported] == ["good"]
    ((label, why),) = summary.failed
    assert label == "broken" and "cannot read its events" in why
    assert [t["name"] for t in project_tasks(client, project)] == ["good"]


def test_a_folder_without_event_files_is_refused(api_url: str, tmp_path: Path) -> None:
    """As the other importers refuse a folder holding nothing of theirs; before, a mistyped
    folder imported 0 runs and succeeded."""
    (tmp_path / "runs" / "notes").mkdir(parents=True)
    (tmp_path / "runs" / "notes" / "readme.txt").write_text("no events here")
    done = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "import", "tensorboard", str(tmp_path / "runs")],
        env=script_env(api_url, tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        done.stderr == f"error: no TensorBoard event file (*tfevents*) under {tmp_path / 'runs'}\n"
    )

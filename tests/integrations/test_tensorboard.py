"""TensorBoard captured on its own: real scripts writing with PyTorch's and tensorboardX's
``SummaryWriter`` against a real server land their scalars (values and steps exact),
histograms (plots), images (debug samples), text (console) and hparams (typed, ``TB_hparams``)
on the task, and still write their event files; switched off, nothing is captured; with the
hooks broken, the script prints and exits as it does without them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tests.scripts import script_env, unique, write_script
from tests.sdk.capture import faulty_hooks
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient

TORCH = "torch.utils.tensorboard"
TENSORBOARDX = "tensorboardX"

SCRIPT = """
import os, sys
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
{before}
from tunelab import Task

task = Task.init(project_name={project!r}, task_name="tensorboard",
                 auto_connect_frameworks={frameworks!r})
print("TASK", task.id)
{after}
writer = SummaryWriter("runs/train")
for step in range(10):
    writer.add_scalar("loss/train", 1 / (step + 1), step)
    writer.add_scalar("lr", step * 0.25, step)
writer.add_scalars("accuracy", {{"train": 0.5, "val": 0.75}}, 3)
rng = np.random.default_rng(0)
for step in range(7):
    writer.add_histogram("fc/weights", rng.normal(size=500) + step, step)
image = np.zeros((3, 16, 24))
image[0] = 1.0
writer.add_image("input", image, 2)
figure, axes = plt.subplots(figsize=(2, 1.5))
axes.plot([0, 1], [1, 0])
writer.add_figure("curves/figure", figure, 4)
writer.add_text("notes", "lr halved", 5)
writer.add_hparams({{"lr": 0.1, "batch": 32, "optimizer": "adam", "nesterov": True}},
                   {{"hparam/accuracy": 0.75}})
writer.close()
events = [f for _, _, files in os.walk("runs") for f in files if f.startswith("events.out")]
print("EVENT FILES", len(events))
print("done")
"""


@dataclass(frozen=True)
class Run:
    writer: str
    frameworks: Any = True
    imported_first: bool = False
    broken: bool = False


# Run at once, side by side (each in a folder of its own): the module's time is one script's.
RUNS = {
    "torch": Run(TORCH, imported_first=True),
    "tensorboardX": Run(TENSORBOARDX),
    "broken": Run(TENSORBOARDX, broken=True),
    "off": Run(TENSORBOARDX, {"tensorboard": False}),
    "no-hparams": Run(TENSORBOARDX, {"tensorboard": {"report_hparams": False}}),
}


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    @property
    def task_id(self) -> str:
        return next(x for x in self.stdout.splitlines() if x.startswith("TASK ")).split()[1]

    @property
    def own_lines(self) -> list[str]:
        """What the script printed itself (not Tunelab's announcement, nor the task's id)."""
        return [x for x in self.stdout.splitlines() if not x.startswith(("TASK ", "Tunelab: "))]


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[ApiClient]:
    with ApiClient(server.url) as api:
        yield api


@pytest.fixture(scope="module")
def runs(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    started = {}
    for name, run in RUNS.items():
        folder = tmp_path_factory.mktemp(f"tensorboard-{name}")
        line = f"from {run.writer} import SummaryWriter"
        body = SCRIPT.format(
            project=unique("tensorboard"),
            frameworks=run.frameworks,
            before=line if run.imported_first else "",
            after="" if run.imported_first else line,
        )
        script = write_script(folder / "code", body)
        wrapper = [sys.executable, faulty_hooks.__file__, *(["--broken"] if run.broken else [])]
        started[name] = subprocess.Popen(
            [*wrapper, str(script)], cwd=script.parent, env=script_env(server.url, folder),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    done = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=180)
        done[name] = Done(process.returncode, stdout, stderr)
    return done


def _console(client: ApiClient, task_id: str) -> list[str]:
    return [line["text"] for line in client.get_console(task_id, limit=5000)["lines"]]


def _float32(value: float) -> float:
    """What TensorBoard keeps of a float: a float32, read as its shortest decimal."""
    return float(str(np.float32(value)))


@pytest.mark.parametrize("name", ["torch", "tensorboardX"])
def test_what_a_summary_writer_writes_lands_on_the_task(
    runs: dict[str, Done], client: ApiClient, name: str
) -> None:
    run = runs[name]
    assert run.returncode == 0, run.stderr
    assert "tunelab: could not capture" not in run.stderr, run.stderr
    # The event files are written as before: runs/train, add_scalars' two keys, add_hparams'.
    assert run.own_lines == ["EVENT FILES 4", "done"]
    task_id = run.task_id

    metrics = client.get_scalars(task_id, max_points=0)["metrics"]
    assert metrics["loss"]["train"]["x"] == list(range(10))
    assert metrics["loss"]["train"]["y"] == [_float32(1 / (s + 1)) for s in range(10)]
    assert metrics["lr"]["lr"]["y"] == [s * 0.25 for s in range(10)]
    assert {k: (v["x"], v["y"]) for k, v in metrics["accuracy"].items()} == {
        "train": ([3], [0.5]),
        "val": ([3], [0.75]),
    }
    assert metrics["hparam"]["accuracy"]["y"] == [0.75]  # add_hparams' metric, as a scalar

    plots = client.get_plots(task_id, title="fc")["plots"]
    # The first five steps, then every fifth (none here), and the last one at the end.
    assert [(p["series"], p["iteration"], p["kind"]) for p in plots] == [
        ("weights", step, "histogram") for step in (0, 1, 2, 3, 4, 6)
    ]
    assert all(sum(p["data"]["values"][0]) == 500 for p in plots)
    assert len(plots[0]["data"]["xlabels"]) == len(plots[0]["data"]["values"][0]) <= 50

    samples = client.get_debug_samples(task_id)["samples"]
    assert sorted((s["title"], s["series"], s["iteration"], s["kind"]) for s in samples) == [
        ("Images", "input", 2, "image"),
        ("curves", "figure", 4, "image"),
    ]

    assert "SUMMARY LOG: notes lr halved" in _console(client, task_id)
    assert "SUMMARY LOG" not in run.stdout  # the task's console only, as ClearML does

    hparams = client.get_task(task_id)["hyperparameters"]["TB_hparams"]
    assert {name: (p["value"], p["type"]) for name, p in hparams.items()} == {
        "lr": ("0.1", "float"),
        "batch": ("32", "int"),
        "optimizer": ("adam", "str"),
        "nesterov": ("True", "bool"),
    }


@pytest.mark.parametrize(
    ("name", "captured", "hparams"),
    [("off", False, False), ("no-hparams", True, False), ("tensorboardX", True, True)],
)
def test_auto_connect_frameworks_switches_it_off(
    runs: dict[str, Done], client: ApiClient, name: str, captured: bool, hparams: bool
) -> None:
    run = runs[name]
    assert run.returncode == 0, run.stderr
    assert run.own_lines == ["EVENT FILES 4", "done"]
    task_id = run.task_id
    assert ("loss" in client.get_scalars(task_id, max_points=0)["metrics"]) is captured
    assert bool(client.get_plots(task_id, title="fc")["plots"]) is captured
    assert bool(client.get_debug_samples(task_id)["samples"]) is captured
    assert ("SUMMARY LOG: notes lr halved" in _console(client, task_id)) is captured
    assert ("TB_hparams" in client.get_task(task_id)["hyperparameters"]) is hparams


def test_a_broken_hook_leaves_the_script_as_it_is(runs: dict[str, Done], client: ApiClient) -> None:
    clean, faulty = runs["tensorboardX"], runs["broken"]
    assert faulty.returncode == clean.returncode == 0, faulty.stderr
    assert faulty.own_lines == clean.own_lines  # event files written all the same
    for what in ("the TensorBoard events", "the TensorBoard hyperparameters"):
        assert faulty.stderr.count(f"tunelab: could not capture {what}: ") == 1, faulty.stderr
    assert faulty_hooks.FAULT in faulty.stderr
    task_id = faulty.task_id
    assert "loss" not in client.get_scalars(task_id, max_points=0)["metrics"]
    recorded = {w["what"] for w in client.get_task(task_id)["capture_warnings"]}
    assert {"the TensorBoard events", "the TensorBoard hyperparameters"} <= recorded

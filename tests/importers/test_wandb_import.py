"""``tunelab import wandb``: offline runs written by the real ``wandb`` package (offline mode),
imported into a real server and compared with what the script logged."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.importers.conftest import Interrupted, StopInRun, project_tasks, source_of
from tests.scripts import script_env, unique
from tunelab.importers.wandb import import_offline_runs
from tunelab.sdk.transport import ApiClient

SCRIPT = Path(__file__).with_name("wandb_script.py")


@pytest.fixture(scope="module")
def wandb_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Three W&B folders (one per test), each with the script's two runs, in one process."""
    root = tmp_path_factory.mktemp("wandb")
    dirs = {name: (root / name, unique(f"wandb-{name}")) for name in ("full", "resume", "damaged")}
    args = [str(a) for folder, project in dirs.values() for a in (folder, project)]
    for folder, _ in dirs.values():
        folder.mkdir()
    env = script_env("http://127.0.0.1:9", root, WANDB_MODE="offline", WANDB_SILENT="true")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return dirs


def test_import_equals_the_source_then_nothing_more(
    client: ApiClient, api_url: str, tmp_path: Path, wandb_dirs: dict[str, tuple[Path, str]]
) -> None:
    folder, project = wandb_dirs["full"]
    done = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "import", "wandb", str(folder)],
        env=script_env(api_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # 3 series of 20 points and 4 single values (the summary holds each key's last value);
    # 5 points and 1 single value.
    assert done.stdout.startswith("imported 2 run(s) (70 scalar points), skipped 0, failed 0")

    tasks = {t["name"]: t for t in project_tasks(client, project)}
    assert sorted(tasks) == ["baseline", "broken"]
    task = tasks["baseline"]
    assert task["status"] == "completed" and source_of(task).startswith("wandb:")
    assert sorted(task["tags"]) == ["imported", "resnet", "small"]
    assert task["comment"] == "first try"
    params = task["hyperparameters"]["wandb"]
    assert {k: (v["value"], v["type"]) for k, v in params.items()} == {
        "lr": ("0.1", "float"),
        "layers": ("3", "int"),
        "optimizer/name": ("adam", "str"),
        "optimizer/beta": ("0.9", "float"),
        "aug": ("True", "bool"),
    }
    stored = client.get_scalars(task["id"], max_points=0)["metrics"]
    assert sorted(stored) == ["Summary", "epoch", "train", "val/top"]
    assert stored["train"]["loss"]["x"] == list(range(20))
    # Each row's own time (_timestamp), in the order logged.
    times = stored["train"]["loss"]["t"]
    assert times == sorted(times) and task["started"] <= times[0] <= times[-1] <= task["completed"]
    assert stored["train"]["loss"]["y"] == [1.0 / (step + 1) for step in range(20)]
    assert stored["val/top"]["acc"]["y"] == [step / 20 for step in range(20)]
    assert stored["epoch"]["epoch"]["y"] == [float(step) for step in range(20)]
    summary = {name: series["y"] for name, series in stored["Summary"].items()}
    assert summary == {
        "best_acc": [0.95],
        "train/loss": [0.05],
        "val/top/acc": [0.95],
        "epoch": [19.0],
    }
    artifact = task["artifacts"]["weights.txt"]
    assert (artifact["size"], artifact["sha256"]) == (100, hashlib.sha256(b"w" * 100).hexdigest())
    assert "requirements.txt" in task["artifacts"]

    broken = tasks["broken"]
    assert broken["status"] == "failed" and "exit code 1" in broken["status_reason"]
    loss = client.get_scalars(broken["id"], max_points=0)["metrics"]["loss"]["loss"]
    assert (loss["x"], loss["y"]) == ([0, 10, 20, 30, 40], [0.0, 1.0, 2.0, 3.0, 4.0])

    again = import_offline_runs(client, folder)
    assert again.imported == [] and len(again.skipped) == 2
    assert all("imported already" in why for _, why in again.skipped)
    assert len(project_tasks(client, project)) == 2


def test_an_import_stopped_half_way_resumes_without_duplicates(
    client: ApiClient, wandb_dirs: dict[str, tuple[Path, str]]
) -> None:
    folder, project = wandb_dirs["resume"]
    with pytest.raises(Interrupted):
        import_offline_runs(client, folder, progress=StopInRun(2))
    states = {
        t["name"]: t["user_properties"]["import_state"]["value"]
        for t in project_tasks(client, project)
    }
    assert sorted(states.values()) == ["complete", "partial"]
    (stopped,) = (name for name, state in states.items() if state == "partial")
    (done,) = (name for name, state in states.items() if state == "complete")

    resumed = import_offline_runs(client, folder)
    assert [label for label, _, _ in resumed.imported] == [f"{project}/{stopped}"]
    assert [label for label, _ in resumed.skipped] == [f"{project}/{done}"]
    tasks = {t["name"]: t for t in project_tasks(client, project)}
    assert sorted(tasks) == ["baseline", "broken"]
    for task in tasks.values():
        assert task["user_properties"]["import_state"]["value"] == "complete"
    loss = client.get_scalars(tasks["broken"]["id"], max_points=0)["metrics"]["loss"]["loss"]
    assert loss["y"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    train = client.get_scalars(tasks["baseline"]["id"], max_points=0)["metrics"]["train"]
    assert train["loss"]["x"] == list(range(20))


def test_a_damaged_run_file_fails_that_run_only(
    client: ApiClient, wandb_dirs: dict[str, tuple[Path, str]]
) -> None:
    source, project = wandb_dirs["damaged"]
    runs = sorted(p for p in (source / "wandb").iterdir() if p.name.startswith("offline-run-"))
    (damaged,) = runs[0].glob("run-*.wandb")
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    summary = import_offline_runs(client, source)
    ((label, why),) = summary.failed
    assert "checksum differs" in why
    ((imported, _, _),) = summary.imported
    assert imported != label
    assert [t["name"] for t in project_tasks(client, project)] == [imported.rpartition("/")[2]]

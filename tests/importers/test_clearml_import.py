"""``tunelab import clearml``: offline sessions written by the real ``clearml`` package
(``Task.set_offline(True)``), imported into a real server and compared with the session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.importers.conftest import Interrupted, StopInRun, project_tasks, source_of
from tunelab.importers.clearml import import_sessions
from tunelab.sdk.transport import ApiClient

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from clearml import Task

    Task.set_offline(True)
    for number in range(2):
        task = Task.init(
            project_name=sys.argv[1], task_name=f"run{number}", reuse_last_task_id=False,
            auto_connect_frameworks=False, auto_resource_monitoring=False,
            auto_connect_arg_parser=False,
        )
        task.connect({"lr": 0.1 * (number + 1), "epochs": 3, "opt": "adam"})
        task.connect_configuration({"model": {"depth": 50 + number}}, name="model")
        logger = task.get_logger()
        for i in range(30):
            logger.report_scalar("loss", "train", value=1.0 / (i + 1) + number, iteration=i)
            logger.report_scalar("acc", "val", value=i / 30, iteration=i)
        logger.report_histogram("hist", "s", values=[1, 2, 3], iteration=1)
        logger.report_image("img", "s", iteration=0, image=np.zeros((4, 4, 3), dtype=np.uint8))
        print(f"hello from run{number}")
        task.upload_artifact("data", artifact_object={"k": number})
        task.close()
    """
)


def write_sessions(root: Path) -> tuple[Path, str]:
    """Two offline sessions (each a folder and a zip) in ``root/cache/offline``."""
    project = f"clearml/offline-{uuid.uuid4().hex[:8]}"
    # Reports written in-process: ClearML's reporting subprocess waits up to 10 s to close.
    config = root / "clearml.conf"
    config.write_text("sdk { development { report_use_subprocess: false } }\n")
    env = {
        **os.environ,
        "HOME": str(root),
        "CLEARML_CONFIG_FILE": str(config),
        "CLEARML_CACHE_DIR": str(root / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", WRITER, project],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "cache" / "offline", project


def session_events(folder: Path) -> list[dict[str, object]]:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [event for line in lines if line.strip() for event in json.loads(line)]


def test_sessions_stopped_half_way_resume_then_import_nothing_more(
    client: ApiClient, tmp_path: Path
) -> None:
    offline, project = write_sessions(tmp_path)
    zips = tmp_path / "zips"  # the sessions copied elsewhere, as zips alone
    zips.mkdir()
    for archive in offline.glob("*.zip"):
        shutil.copy(archive, zips)
    with pytest.raises(Interrupted):
        import_sessions(client, zips, progress=StopInRun(2))
    left = project_tasks(client, project)
    assert sorted(t["user_properties"]["import_state"]["value"] for t in left) == [
        "complete",
        "partial",
    ]

    resumed = import_sessions(client, offline)  # the folders: the same sessions
    assert len(resumed.imported) == 1 and len(resumed.skipped) == 1 and not resumed.failed

    tasks = project_tasks(client, project)
    folders = {p.name: p for p in offline.iterdir() if p.is_dir()}
    assert sorted(source_of(t) for t in tasks) == sorted(f"clearml:{n}" for n in folders)
    for task in tasks:
        folder = folders[source_of(task).removeprefix("clearml:")]
        recorded = json.loads((folder / "task.json").read_text())
        assert task["name"] == recorded["name"] and task["status"] == "completed"
        assert {
            section: {name: (p["value"], p["type"]) for name, p in params.items()}
            for section, params in task["hyperparameters"].items()
        } == {
            section: {name: (p["value"], p["type"]) for name, p in params.items()}
            for section, params in recorded["hyperparams"].items()
        }
        assert task["configuration"]["model"]["text"] == recorded["configuration"]["model"]["value"]
        stored = client.get_scalars(task["id"], max_points=0)["metrics"]
        events = session_events(folder)
        for title, series in (("loss", "train"), ("acc", "val")):
            graph = (title, series)
            points = [
                e
                for e in events
                if e["type"] == "training_stats_scalar" and (e["metric"], e["variant"]) == graph
            ]
            assert stored[title][series]["x"] == [e["iter"] for e in points]
            assert stored[title][series]["y"] == [e["value"] for e in points]
        (plot,) = client.get_plots(task["id"])["plots"]
        assert (plot["title"], plot["kind"], plot["data"]["data"][0]["y"]) == (
            "hist",
            "plotly",
            [1, 2, 3],
        )
        (sample,) = client.get_debug_samples(task["id"])["samples"]
        assert (sample["title"], sample["series"], sample["kind"]) == ("img", "s", "image")
        artifact = client.get_task(task["id"])["artifacts"]["data"]
        assert artifact["type"] == "dict" and json.loads(artifact["preview"])["k"] in (0, 1)
        console = "\n".join(line["text"] for line in client.get_console(task["id"])["lines"])
        assert f"hello from {task['name']}" in console

    again = import_sessions(client, offline)
    assert again.imported == [] and len(again.skipped) == 2
    assert len(project_tasks(client, project)) == 2


def _session(root: Path, name: str, task: dict[str, object], events: list[object]) -> None:
    folder = root / f"offline-{name}"
    folder.mkdir()
    (folder / "task.json").write_text(json.dumps({"id": name, "name": name, **task}))
    (folder / "metrics.jsonl").write_text(json.dumps(events) + "\n")


def test_a_session_with_values_of_the_wrong_shape_fails_alone(
    client: ApiClient, tmp_path: Path
) -> None:
    """Sessions are files a user may have edited or cut: one whose values have the wrong
    shape is listed as failed, with its reason, and the others are imported."""
    project = f"clearml/shapes-{uuid.uuid4().hex[:8]}"
    task = {"project_name": project}
    point = {"type": "training_stats_scalar", "metric": "loss", "variant": "train", "value": 1}
    offline = tmp_path / "offline"
    offline.mkdir()
    _session(offline, "good", task, [{**point, "iter": 3, "timestamp": 1.7e12}])
    _session(offline, "iteration", task, [{**point, "iter": "three"}])
    _session(offline, "value", task, [{**point, "iter": 1, "value": [1]}])
    _session(offline, "plot", task, [{"type": "plot", "metric": "p", "plot_str": "{oops"}])
    _session(offline, "figure", task, [{"type": "plot", "metric": "p", "plot_str": "[1]"}])
    _session(offline, "params", {**task, "hyperparams": ["lr", 0.1]}, [])
    _session(offline, "param", {**task, "hyperparams": {"General": {"lr": 0.1}}}, [])
    _session(offline, "kind", {**task, "type": ["training"], "tags": "a"}, [])
    _session(offline, "script", {**task, "script": "python train.py"}, [])

    summary = import_sessions(client, offline)
    failed = dict(summary.failed)
    assert {label.rsplit("/", 1)[1] for label in failed} == {
        "iteration", "value", "plot", "figure", "params", "param", "script",
    }  # fmt: skip
    assert all("offline-" in why for why in failed.values()), failed
    imported = {label.rsplit("/", 1)[1]: task_id for label, task_id, _ in summary.imported}
    assert set(imported) == {"good", "kind"}
    stored = client.get_scalars(imported["good"], max_points=0)["metrics"]
    assert stored["loss"]["train"]["x"] == [3]
    kind = client.get_task(imported["kind"])
    assert (kind["type"], kind["tags"]) == ("custom", ["a", "imported"])
    assert len(project_tasks(client, project)) == 2  # the failed left no half task

"""``tunelab import neptune``: an export in neptune-exporter's layout, imported into a real
server and compared with the rows written.

The exporter itself needs a neptune.ai account, so the Parquet files are written here with
pyarrow, in its documented layout: its ``model.py::SCHEMA``, ``<data>/<project dir>/
<run>_part_<n>.parquet`` with ``sanitize_path_part`` names, files under ``<files>/<project
dir>/``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.importers.conftest import Interrupted, StopInRun, project_tasks, source_of
from tests.scripts import script_env, unique
from tunelab.importers.neptune import import_export
from tunelab.sdk.transport import ApiClient

SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("run_id", pa.string()),
        ("attribute_path", pa.string()),
        ("attribute_type", pa.string()),
        ("step", pa.decimal128(18, 6)),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("int_value", pa.int64()),
        ("float_value", pa.float64()),
        ("string_value", pa.string()),
        ("bool_value", pa.bool_()),
        ("datetime_value", pa.timestamp("ms", tz="UTC")),
        ("string_set_value", pa.list_(pa.string())),
        ("file_value", pa.struct([("path", pa.string())])),
        (
            "histogram_value",
            pa.struct(
                [
                    ("type", pa.string()),
                    ("edges", pa.list_(pa.float64())),
                    ("values", pa.list_(pa.float64())),
                ]
            ),
        ),
    ]
)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WEIGHTS = b"\x00\x01weights" * 50
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def sanitize(part: str) -> str:
    """neptune-exporter's ``sanitize_path_part``."""
    safe = "".join(c if c.isalnum() or c in ("_", "-") else "_" for c in part)
    return safe + "-" + hashlib.blake2b(part.encode(), digest_size=8).hexdigest()


def row(project: str, run: str, path: str, kind: str, **values: Any) -> dict[str, Any]:
    return {"project_id": project, "run_id": run, "attribute_path": path, "attribute_type": kind,
            **values}  # fmt: skip


def write_export(root: Path, project: str) -> Path:
    """Two whole runs (the first in two parts, with files) and one still being exported."""
    data, files = root / "data" / sanitize(project), root / "files" / sanitize(project)
    data.mkdir(parents=True)

    def part(run: str, n: int, rows: list[dict[str, Any]], suffix: str = "") -> None:
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        pq.write_table(table, data / f"{sanitize(run)}_part_{n}.parquet{suffix}")

    r = "SAN-1"
    part(r, 0, [
        row(project, r, "sys/name", "string", string_value="baseline"),
        row(project, r, "sys/tags", "string_set", string_set_value=["resnet", "small"]),
        row(project, r, "sys/description", "string", string_value="first try"),
        row(project, r, "sys/creation_time", "datetime", datetime_value=T0),
        row(project, r, "sys/owner", "string", string_value="alice"),
        row(project, r, "sys/failed", "bool", bool_value=False),
        row(project, r, "parameters/lr", "float", float_value=0.01),
        row(project, r, "parameters/batch", "int", int_value=32),
        row(project, r, "parameters/optimizer", "string", string_value="adam"),
        row(project, r, "parameters/augment", "bool", bool_value=True),
        row(project, r, "parameters/labels", "string_set", string_set_value=["cat", "dog"]),
        row(project, r, "model/weights", "file", file_value={"path": f"{r}/model/weights.bin"}),
    ])  # fmt: skip
    series = [
        row(project, r, path, "float_series", step=Decimal(step),
            timestamp=T0 + timedelta(seconds=step), float_value=value(step))
        for path, value in (("metrics/loss", lambda s: 1 / (s + 1)),
                            ("metrics/acc", lambda s: s / 30))
        for step in range(30)
    ]  # fmt: skip
    series += [
        row(project, r, "monitoring/1a2b/stdout", "string_series", step=Decimal(i),
            timestamp=T0 + timedelta(seconds=i), string_value=text)
        for i, text in enumerate(["epoch 1", "epoch 2"])
    ]  # fmt: skip
    series += [
        row(project, r, "images/sample", "file_series", step=Decimal(step),
            timestamp=T0 + timedelta(seconds=step),
            file_value={"path": f"{r}/images/sample/{step}.png"})
        for step in (0, 5)
    ]  # fmt: skip
    part(r, 1, series)
    (files / r / "model").mkdir(parents=True)
    (files / r / "model" / "weights.bin").write_bytes(WEIGHTS)
    (files / r / "images" / "sample").mkdir(parents=True)
    for step in (0, 5):
        (files / r / "images" / "sample" / f"{step}.png").write_bytes(PNG)

    r = "SAN-2"
    part(r, 0, [
        row(project, r, "sys/failed", "bool", bool_value=True),
        *(row(project, r, "metrics/loss", "float_series", step=Decimal(step),
              timestamp=T0 + timedelta(seconds=i), float_value=float(i))
          for i, step in enumerate(("0.5", "1.0", "1.5"))),
    ])  # fmt: skip
    part("SAN-3", 0, [row(project, "SAN-3", "sys/name", "string", string_value="x")], ".tmp")
    return root / "data"


def test_import_equals_the_export_then_nothing_more(
    client: ApiClient, api_url: str, tmp_path: Path
) -> None:
    project = unique("neptune/vision")
    data = write_export(tmp_path / "exports", project)
    done = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "import", "neptune", str(data)],
        env=script_env(api_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imported 2 run(s) (63 scalar points), skipped 0, failed 0")

    tasks = {t["name"]: t for t in project_tasks(client, project)}
    assert sorted(tasks) == ["SAN-2", "baseline"]
    task = tasks["baseline"]
    assert task["status"] == "completed" and source_of(task) == f"neptune:{project}/SAN-1"
    assert sorted(task["tags"]) == ["imported", "resnet", "small"]
    assert task["comment"] == "first try"
    assert task["started"] == T0.timestamp()
    assert task["user_properties"]["sys/owner"]["value"] == "alice"
    params = task["hyperparameters"]["neptune"]
    assert {k: (v["value"], v["type"]) for k, v in params.items()} == {
        "parameters/lr": ("0.01", "float"),
        "parameters/batch": ("32", "int"),
        "parameters/optimizer": ("adam", "str"),
        "parameters/augment": ("True", "bool"),
        "parameters/labels": ('["cat", "dog"]', "list"),
    }
    stored = client.get_scalars(task["id"], max_points=0)["metrics"]["metrics"]
    assert stored["loss"]["x"] == list(range(30))
    assert stored["loss"]["t"] == [T0.timestamp() + s for s in range(30)]
    assert stored["loss"]["y"] == [1 / (s + 1) for s in range(30)]
    assert stored["acc"]["y"] == [s / 30 for s in range(30)]
    lines = client.get_console(task["id"])["lines"]
    assert [(line["stream"], line["text"]) for line in lines] == [
        ("stdout", "epoch 1"),
        ("stdout", "epoch 2"),
    ]
    weights = task["artifacts"]["model.weights"]
    assert (weights["size"], weights["sha256"]) == (
        len(WEIGHTS),
        hashlib.sha256(WEIGHTS).hexdigest(),
    )
    samples = client.get_debug_samples(task["id"])["samples"]
    assert sorted((s["title"], s["series"], s["iteration"]) for s in samples) == [
        ("images", "sample", 0),
        ("images", "sample", 5),
    ]

    failed = tasks["SAN-2"]
    assert failed["status"] == "failed"
    assert failed["user_properties"]["neptune_step_multiplier"]["value"] == "10"
    loss = client.get_scalars(failed["id"], max_points=0)["metrics"]["metrics"]["loss"]
    assert (loss["x"], loss["y"]) == ([5, 10, 15], [0.0, 1.0, 2.0])

    again = import_export(client, data)
    assert again.imported == [] and len(again.skipped) == 2
    assert all("imported already" in why for _, why in again.skipped)
    assert len(project_tasks(client, project)) == 2


def test_an_import_stopped_half_way_resumes_without_duplicates(
    client: ApiClient, tmp_path: Path
) -> None:
    project = unique("neptune/resume")
    data = write_export(tmp_path / "exports", project)
    with pytest.raises(Interrupted):
        import_export(client, data, progress=StopInRun(2))
    left = {t["name"]: t for t in project_tasks(client, project)}
    assert left["SAN-2"]["user_properties"]["import_state"]["value"] == "partial"

    resumed = import_export(client, data)
    assert [label for label, _, _ in resumed.imported] == [f"{project}/SAN-2"]
    assert [label for label, _ in resumed.skipped] == [f"{project}/baseline"]
    tasks = {t["name"]: t for t in project_tasks(client, project)}
    assert sorted(tasks) == ["SAN-2", "baseline"]
    for task in tasks.values():
        assert task["user_properties"]["import_state"]["value"] == "complete"
    loss = client.get_scalars(tasks["SAN-2"]["id"], max_points=0)["metrics"]["metrics"]["loss"]
    assert loss["x"] == [5, 10, 15]


def test_a_damaged_part_fails_that_run_only(client: ApiClient, tmp_path: Path) -> None:
    project = unique("neptune/damaged")
    data = write_export(tmp_path / "exports", project)
    (second,) = data.glob(f"*/{sanitize('SAN-1')}_part_1.parquet")
    second.write_bytes(second.read_bytes()[:100])  # cut short

    summary = import_export(client, data)
    assert [label for label, _, _ in summary.imported] == [f"{project}/SAN-2"]
    ((label, why),) = summary.failed
    assert label == f"{project}/baseline" and "part_1.parquet: cannot be read" in why
    assert [t["name"] for t in project_tasks(client, project)] == ["SAN-2"]

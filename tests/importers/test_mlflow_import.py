"""``tunelab import mlflow``: a file store and a SQLite store written by MLflow's own client,
imported into a real server and compared with what MLflow's client reads back."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.importers.conftest import Interrupted, StopInRun, project_tasks, source_of
from tunelab.importers.mlflow import import_tracking
from tunelab.importers.mlflow_history import (
    client_histories,
    file_histories,
    history_reader,
    read_metric_file,
    sql_histories,
)
from tunelab.sdk.transport import ApiClient

# Each metric the runs log: its scalar's title and series.
METRICS = {
    "loss": ("loss", "loss"),
    "train/acc": ("train", "acc"),
    "edge": ("edge", "edge"),
    "bulk": ("bulk", "bulk"),
}

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import random
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    uri, experiment, files = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(experiment)
    (files / "model").mkdir(parents=True)
    (files / "model" / "MLmodel").write_text("flavors: {}\\n")
    (files / "model" / "weights.bin").write_bytes(b"w" * 2048)
    (files / "notes.txt").write_text("hello")
    for number, status in enumerate(["FINISHED", "FAILED"]):
        with mlflow.start_run(run_name=f"run{number}") as run:
            mlflow.log_params({"lr": 0.1 * (number + 1), "epochs": 3, "opt": "adam",
                               "amp": "true"})
            mlflow.set_tags({"team": "vision", "baseline": "", "mlflow.note.content": "n"})
            for step in range(60):
                mlflow.log_metric("loss", 1.0 / (step + 1) + number, step=step)
                mlflow.log_metric("train/acc", step / 60, step=step * 2)
            # What a store must give back as logged: NaN, infinities, a step twice, the same
            # point twice, steps out of order, values of every digit.
            run_id, stamp = mlflow.active_run().info.run_id, 1700000000000 + number
            edge = [float("nan"), float("inf"), float("-inf"), 0.1 + 0.2, 1e-300, -0.0, 3]
            logged = MlflowClient(uri)
            logged.log_batch(run_id, [Metric("edge", v, stamp + i, i % 3)
                                      for i, v in enumerate(edge)])
            for _ in range(2):
                logged.log_batch(run_id, [Metric("edge", 0.5, stamp, 9)])
            bulk = random.Random(number)
            for start in (0, 1000):
                logged.log_batch(run_id, [
                    Metric("bulk", bulk.random() * 10 ** bulk.randint(-30, 30), stamp + i, -i)
                    for i in range(start, start + 1000)
                ])
            mlflow.log_artifacts(str(files))
            if status == "FAILED":
                mlflow.end_run("FAILED")
        if number == 0:
            first = run.info.run_id
    client = MlflowClient()
    # A run left running (the fluent API would end it at exit): the import skips it.
    client.create_run(run.info.experiment_id, run_name="still-running")
    client.create_registered_model("net")
    client.create_model_version("net", f"runs:/{first}/model", run_id=first)
    """
)


def write_store(uri: str, experiment: str, scratch: Path) -> None:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    done = subprocess.run(
        [sys.executable, "-c", WRITER, uri, experiment, str(scratch)],
        env=env, capture_output=True, text=True, timeout=180, cwd=scratch.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def new_store(root: Path, kind: str, uri: str) -> tuple[str, str]:
    """``(uri, experiment)``: two ended runs (one failed), one still running and a
    registered model version."""
    experiment = f"team/{kind}-{uuid.uuid4().hex[:8]}"
    write_store(uri, experiment, root / kind)
    return uri, experiment


@pytest.fixture
def file_store(tmp_path: Path) -> tuple[str, str]:
    return new_store(tmp_path, "file", (tmp_path / "mlruns").as_uri())


@pytest.fixture
def sqlite_store(tmp_path: Path) -> tuple[str, str]:
    # MLflow creates its schema by running its ~50 migrations: the slow part of this test.
    return new_store(tmp_path, "sqlite", f"sqlite:///{tmp_path}/mlflow.db")


# MLflow's SQLAlchemy models map a relation with a loader SQLAlchemy 2.1 deprecates; the
# warning is MLflow's to fix, not a failure of the import. Module-wide: the first test that
# configures the mappers fails them for the whole process.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")


def assert_same_as_source(client: ApiClient, uri: str, experiment: str) -> list[dict[str, Any]]:
    from mlflow import MlflowClient

    source = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = source.search_runs([source.get_experiment_by_name(experiment).experiment_id])
    ended = {r.info.run_id: r for r in runs if r.info.status != "RUNNING"}
    tasks = project_tasks(client, experiment)
    assert sorted(source_of(t) for t in tasks) == sorted(f"mlflow:{i}" for i in ended)
    for task in tasks:
        run = ended[source_of(task).removeprefix("mlflow:")]
        assert task["name"] == run.info.run_name
        assert task["status"] == {"FINISHED": "completed", "FAILED": "failed"}[run.info.status]
        assert task["started"] == run.info.start_time / 1000
        assert task["completed"] == run.info.end_time / 1000
        params = {k: v["value"] for k, v in task["hyperparameters"]["MLflow"].items()}
        assert params == run.data.params
        types = {k: v["type"] for k, v in task["hyperparameters"]["MLflow"].items()}
        assert types == {"lr": "float", "epochs": "int", "opt": "str", "amp": "bool"}
        assert "baseline" in task["tags"] and task["comment"] == "n"
        assert task["user_properties"]["team"]["value"] == "vision"
        stored = client.get_scalars(task["id"], max_points=0)["metrics"]
        for key, (title, series) in METRICS.items():
            history = source.get_metric_history(run.info.run_id, key)
            # The server keeps a series in step order; a value that is not finite reads
            # back as None, as in JSON.
            logged = [
                (m.step, m.timestamp / 1000, m.value if math.isfinite(m.value) else None)
                for m in history
            ]
            got = stored[title][series]
            assert sorted(zip(got["x"], got["t"], got["y"], strict=True), key=str) == sorted(
                logged, key=str
            )
        assert_read_directly_as_client_reads(source, uri, run)
        artifacts = client.get_task(task["id"])["artifacts"]
        assert sorted(artifacts) == ["model", "notes.txt"]
        assert artifacts["notes.txt"]["size"] == 5 and artifacts["model"]["format"] == "zip"
    return tasks


def assert_read_directly_as_client_reads(source: Any, uri: str, run: Any) -> None:
    """The import reads a file or SQL store's histories itself: the same points, in the same
    order, NaN and infinities included, as MLflow's client gives them."""
    with history_reader(source, uri) as read:
        assert read.func is (sql_histories if uri.startswith("sqlite:") else file_histories)
        direct = read(run)
    by_client = client_histories(source, run)
    assert list(direct) == list(by_client) == sorted(METRICS)
    for key, history in by_client.items():
        assert len(history.steps) == {"bulk": 2000, "edge": 9 if "sqlite" not in uri else 8}.get(
            key, 60
        )
        for mine, theirs in zip(direct[key], history, strict=True):
            assert mine.dtype == theirs.dtype
            assert np.array_equal(mine, theirs, equal_nan=True), key
    edge = direct["edge"].values
    assert np.isnan(edge).sum() == 1
    assert np.isposinf(edge).sum() == (0 if "sqlite" in uri else 1)  # SQL keeps the max float


def test_file_store_imported_whole_then_nothing_more(
    client: ApiClient, file_store: tuple[str, str]
) -> None:
    import mlflow

    uri, experiment = file_store
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    summary = import_tracking(client, uri, [experiment])
    # The process's MLflow defaults are as they were: an import leaves nothing behind.
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
    assert len(summary.imported) == 2 and not summary.failed
    assert [why for _, why in summary.skipped] == ["still running in MLflow"]
    tasks = assert_same_as_source(client, uri, experiment)

    (model,) = client.list_models(name="net", project=experiment)["items"]
    first = next(t for t in tasks if t["name"] == "run0")
    assert model["task_id"] == first["id"] and model["tags"] == ["v1"]
    assert model["size"] == 2048 and model["config_text"] == "flavors: {}\n"

    again = import_tracking(client, uri, [experiment])
    assert again.imported == [] and again.models == []
    assert len(again.skipped) == 4  # two runs, the running one, the model version
    assert len(project_tasks(client, experiment)) == 2
    assert len(client.list_models(name="net", project=experiment)["items"]) == 1
    assert_lines_of_two_and_five_fields(uri, experiment)


def assert_lines_of_two_and_five_fields(uri: str, experiment: str) -> None:
    """A line from before steps (``timestamp value``) is step 0, as MLflow reads it; a line
    logged with a dataset (``timestamp value step name digest``) keeps its step."""
    from mlflow import MlflowClient

    source = MlflowClient(tracking_uri=uri)
    experiment_id = source.get_experiment_by_name(experiment).experiment_id
    run = next(r for r in source.search_runs([experiment_id]) if r.info.run_name == "run0")
    path = Path(uri.removeprefix("file://")) / experiment_id / run.info.run_id / "metrics" / "loss"
    with path.open("a") as lines:
        lines.write("1700000000123 0.25\n1700000000124 nan 7 train 7f3a\n")
    mine, theirs = read_metric_file(path), client_histories(source, run)["loss"]
    assert (
        mine.steps[-2:].tolist() == [0, 7]
        and mine.steps[:-1].tolist() == theirs.steps[:-1].tolist()
    )
    assert mine.timestamps.tolist() == theirs.timestamps.tolist()
    assert np.array_equal(mine.values, theirs.values, equal_nan=True)
    assert mine.values[-2] == 0.25 and np.isnan(mine.values[-1]) and len(mine.values) == 62


@pytest.mark.slow
def test_sqlite_store_import_stopped_half_way_resumes_without_duplicates(
    client: ApiClient, sqlite_store: tuple[str, str]
) -> None:
    uri, experiment = sqlite_store
    with pytest.raises(Interrupted):
        import_tracking(client, uri, [experiment], progress=StopInRun(2))
    left = project_tasks(client, experiment)
    assert sorted(t["user_properties"]["import_state"]["value"] for t in left) == [
        "complete",
        "partial",
    ]

    resumed = import_tracking(client, uri, [experiment])
    assert len(resumed.imported) == 1 and len(resumed.models) == 1
    assert_same_as_source(client, uri, experiment)
    assert import_tracking(client, uri, [experiment]).imported == []
    assert len(project_tasks(client, experiment)) == 2


@pytest.mark.parametrize(
    "uri",
    ["{tmp}/mlruns", "file://{tmp}/mlruns", "sqlite:///{tmp}/mlflow.db", "sqlite://"],
    ids=["path", "file-uri", "sqlite", "sqlite-memory"],
)
def test_a_store_that_is_not_there_is_refused_and_none_is_made(
    api_url: str, tmp_path: Path, uri: str
) -> None:
    """A mistyped path must not import nothing and succeed: MLflow's client would make an
    empty store there (a folder tree, a 1 MB database) and the import would read it."""
    from click.testing import CliRunner

    from tunelab.cli.main import cli

    uri = uri.format(tmp=tmp_path)
    result = CliRunner().invoke(cli, ["import", "mlflow", "--tracking-uri", uri])
    assert result.exit_code == 2, result.output
    assert "no MLflow" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_source_mlflow_cannot_open_is_one_line_and_fast(api_url: str, tmp_path: Path) -> None:
    """A tracking server that does not answer kept the import silent for minutes (MLflow's
    client retries each call), and a URI MLflow cannot use printed its traceback."""
    import time

    from click.testing import CliRunner

    from tests.services import free_port
    from tunelab.cli.main import cli

    def imported(uri: str) -> Any:
        return CliRunner().invoke(cli, ["import", "mlflow", "--tracking-uri", uri])

    began = time.monotonic()
    away = imported(f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - began < 30
    assert away.exit_code == 1, away.output
    assert "no MLflow tracking server answers at http://127.0.0.1:" in away.output

    unknown = imported("weird://x")
    assert unknown.exit_code == 2 and "MLflow cannot open 'weird://x'" in unknown.output
    driver = imported("mysql://ann:hunter2@127.0.0.1:9/db")
    assert driver.exit_code == 2 and "MySQLdb" in driver.output
    port = imported("http://ann:hunter2@127.0.0.1:99999")
    assert port.exit_code == 2 and "the tracking URI cannot be read" in port.output
    for result in (away, unknown, driver, port):
        assert "Traceback" not in result.output and "hunter2" not in result.output

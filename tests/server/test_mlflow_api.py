"""MLflow's tracking API under ``/mlflow``: the unchanged MLflow client from PyPI logs a
typical training script into a real server that asks for login (its API key as
``MLFLOW_TRACKING_TOKEN``), and reads it back through ``MlflowClient`` and through Tunelab's
own SDK: experiments are projects, runs tasks, params typed hyperparameters, metrics
scalars. Errors come back in MLflow's shape, so the client raises its own exception."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.accounts import login_server
from tests.services import ServerProcess
from tunelab import Task

EXPERIMENT = "mlflow/churn"
SHA = "0123456789abcdef0123456789abcdef01234567"

SCRIPT = textwrap.dedent(
    f"""
    import json
    import mlflow

    mlflow.set_experiment({EXPERIMENT!r})
    with mlflow.start_run(
        run_name="brisk-lynx", tags={{"mlflow.source.git.commit": {SHA!r}}}
    ) as run:
        mlflow.log_params({{"lr": 0.01, "layers": 3, "optimizer": "adam", "shuffle": True}})
        for step in range(20):
            mlflow.log_metric("train/loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({{"accuracy": 0.93, "val/loss": 0.12}}, step=19)
        mlflow.set_tags({{"team": "vision", "baseline": ""}})
    with mlflow.start_run(run_name="slow-owl") as second:
        mlflow.log_param("lr", 0.1)
        mlflow.log_metric("accuracy", 0.71, step=0)
    try:
        with mlflow.start_run(run_name="broken") as failed:
            mlflow.log_metric("accuracy", 0.1)
            raise RuntimeError("diverged")
    except RuntimeError:
        pass
    killed = mlflow.start_run(run_name="stopped-early")
    mlflow.end_run(status="KILLED")
    print(json.dumps({{"runs": [run.info.run_id, second.info.run_id, failed.info.run_id,
                                killed.info.run_id],
                      "experiment": run.info.experiment_id}}))
    """
)


@dataclass
class Logged:
    server: ServerProcess
    key: str
    outsider_key: str
    client: MlflowClient
    experiment_id: str
    best: str
    second: str
    failed: str
    killed: str


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    root = tmp_path_factory.mktemp("mlflow")
    kinds = {"root": "admin", "bob": "member", "carol": "member"}
    with login_server(root / "server", kinds) as (server, clients):
        keys = {
            name: str(c.headers["authorization"]).split(" ", 1)[1] for name, c in clients.items()
        }
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"{server.url}/mlflow",
            "MLFLOW_TRACKING_TOKEN": keys["bob"],
            "HOME": str(root),  # no user's MLflow or git configuration
        }
        (root / "train.py").write_text(SCRIPT)
        done = subprocess.run(
            [sys.executable, "train.py"], cwd=root, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout.strip().splitlines()[-1])
        best, second, failed, killed = printed["runs"]
        saved = os.environ.get("MLFLOW_TRACKING_TOKEN")
        os.environ["MLFLOW_TRACKING_TOKEN"] = keys["bob"]
        try:
            client = MlflowClient(tracking_uri=f"{server.url}/mlflow")
            yield Logged(
                server, keys["bob"], keys["carol"], client, printed["experiment"],
                best, second, failed, killed,
            )  # fmt: skip
        finally:
            if saved is None:
                os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
            else:
                os.environ["MLFLOW_TRACKING_TOKEN"] = saved


def test_a_typical_script_reads_back_through_mlflow(logged: Logged) -> None:
    client = logged.client
    run = client.get_run(logged.best)
    assert run.info.run_name == "brisk-lynx"
    assert run.info.status == "FINISHED"
    assert run.info.end_time >= run.info.start_time > 0
    assert run.info.experiment_id == logged.experiment_id
    assert run.data.params == {"lr": "0.01", "layers": "3", "optimizer": "adam", "shuffle": "True"}
    assert run.data.metrics == {"train/loss": 0.05, "accuracy": 0.93, "val/loss": 0.12}
    tags = run.data.tags
    assert tags["team"] == "vision" and tags["baseline"] == ""
    assert tags["mlflow.source.git.commit"] == SHA
    assert tags["mlflow.runName"] == "brisk-lynx"
    assert tags["mlflow.user"] == "bob"  # the key's account, whoever the OS user was

    history = client.get_metric_history(logged.best, "train/loss")
    assert [m.step for m in history] == list(range(20))
    assert [m.value for m in history] == [1.0 / (step + 1) for step in range(20)]
    assert all(m.timestamp >= run.info.start_time for m in history)

    failed = client.get_run(logged.failed)
    assert failed.info.status == "FAILED"
    assert client.get_run(logged.second).info.status == "FINISHED"

    found = client.search_runs(
        [logged.experiment_id], "metrics.accuracy > 0.5", order_by=["metrics.accuracy DESC"]
    )
    assert [r.info.run_id for r in found] == [logged.best, logged.second]
    found = client.search_runs(
        [logged.experiment_id], "params.lr = '0.1' AND attributes.status = 'FINISHED'"
    )
    assert [r.info.run_id for r in found] == [logged.second]
    found = client.search_runs([logged.experiment_id], "tags.team LIKE 'vis%'")
    assert [r.info.run_id for r in found] == [logged.best]
    # Newest first by default; pages of max_results with a token.
    first = client.search_runs([logged.experiment_id], max_results=3)
    assert [r.info.run_id for r in first] == [logged.killed, logged.failed, logged.second]
    rest = client.search_runs([logged.experiment_id], max_results=3, page_token=first.token)
    assert [r.info.run_id for r in rest] == [logged.best] and rest.token is None
    assert client.get_run(logged.killed).info.status == "KILLED"

    experiments = {e.name: e.experiment_id for e in client.search_experiments()}
    assert experiments[EXPERIMENT] == logged.experiment_id
    assert client.get_experiment_by_name(EXPERIMENT).experiment_id == logged.experiment_id


def test_the_runs_are_tasks_to_tunelab(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNELAB_API_URL", logged.server.url)
    monkeypatch.setenv("TUNELAB_API_TOKEN", logged.key)
    task = Task.get_task(task_id=logged.best)
    assert (task.name, task.project, task.status) == ("brisk-lynx", EXPERIMENT, "completed")
    assert task.get_parameters(cast=True) == {
        "MLflow/lr": 0.01, "MLflow/layers": 3, "MLflow/optimizer": "adam", "MLflow/shuffle": True,
    }  # fmt: skip
    scalars = task.get_reported_scalars()
    assert scalars["train"]["loss"]["x"] == list(range(20))
    assert scalars["accuracy"]["accuracy"] == {"x": [19], "y": [0.93]}
    assert scalars["val"]["loss"]["y"] == [0.12]
    record = task.export_task()
    assert record["execution"]["commit"] == SHA
    assert record["execution"]["entry_point"].endswith("train.py")  # mlflow.source.name
    assert record["tags"] == ["baseline"]
    assert record["user_properties"]["team"]["value"] == "vision"
    assert Task.get_task(task_id=logged.failed).status == "failed"
    assert Task.get_task(task_id=logged.killed).status == "stopped"


def test_errors_come_back_as_mlflow_errors(logged: Logged) -> None:
    client = logged.client
    with pytest.raises(MlflowException) as unknown:
        client.get_run("0" * 32)
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as changed:
        client.log_param(logged.second, "lr", "0.5")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in changed.value.message
    with pytest.raises(MlflowException) as bad_filter:
        client.search_runs([logged.experiment_id], "metrics.accuracy > 'high'")
    assert bad_filter.value.error_code == "INVALID_PARAMETER_VALUE"

    api = f"{logged.server.url}/mlflow/api/2.0/mlflow"
    anonymous = httpx.get(f"{api}/runs/get", params={"run_id": logged.best})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    outsider = {"Authorization": f"Bearer {logged.outsider_key}"}
    other = httpx.get(f"{api}/runs/get", params={"run_id": logged.best}, headers=outsider)
    assert (other.status_code, other.json()["error_code"]) == (403, "PERMISSION_DENIED")
    wrote = httpx.post(
        f"{api}/runs/log-metric",
        json={"run_id": logged.best, "key": "x", "value": 1, "timestamp": 1, "step": 0},
        headers=outsider,
    )
    assert (wrote.status_code, wrote.json()["error_code"]) == (403, "PERMISSION_DENIED")
    missing = httpx.get(f"{api}/no-such-route", headers=outsider)
    assert (missing.status_code, missing.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")


def test_log_batch_takes_mlflows_limits(logged: Logged) -> None:
    api = f"{logged.server.url}/mlflow/api/2.0/mlflow"
    headers = {"Authorization": f"Bearer {logged.key}"}
    run = httpx.post(
        f"{api}/runs/create", json={"experiment_id": logged.experiment_id}, headers=headers
    ).json()["run"]["info"]["run_id"]
    metrics = [{"key": "m", "value": i, "timestamp": 1_000 + i, "step": i} for i in range(1000)]
    full = httpx.post(
        f"{api}/runs/log-batch", json={"run_id": run, "metrics": metrics}, headers=headers
    )
    assert full.status_code == 200, full.text
    history = httpx.get(
        f"{api}/metrics/get-history",
        params={"run_id": run, "metric_key": "m", "max_results": 600},
        headers=headers,
    ).json()
    assert len(history["metrics"]) == 600
    rest = httpx.get(
        f"{api}/metrics/get-history",
        params={"run_id": run, "metric_key": "m", "page_token": history["next_page_token"]},
        headers=headers,
    ).json()
    assert [m["step"] for m in rest["metrics"]] == list(range(600, 1000))
    assert "next_page_token" not in rest

    too_many = [*metrics, {"key": "m", "value": 0, "timestamp": 1, "step": 1000}]
    refused = httpx.post(
        f"{api}/runs/log-batch", json={"run_id": run, "metrics": too_many}, headers=headers
    )
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    params = [{"key": f"p{i}", "value": "1"} for i in range(101)]
    refused = httpx.post(
        f"{api}/runs/log-batch", json={"run_id": run, "params": params}, headers=headers
    )
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    for body in ({"run_id": run, "metrics": "many"}, {"run_id": 7}, [1, 2]):
        bad = httpx.post(f"{api}/runs/log-batch", json=body, headers=headers)
        assert (bad.status_code, bad.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def test_an_ended_run_resumes(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    """``start_run(run_id=...)`` on an ended run sets it running again and logging goes on,
    as in MLflow; its task is running again, its start kept, its end time that of the end."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{logged.server.url}/mlflow")
    client = logged.client
    with mlflow.start_run(experiment_id=logged.experiment_id, run_name="resumed") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_metric("loss", 0.5, step=0)
    first = client.get_run(run.info.run_id).info
    assert first.status == "FINISHED"
    for ending in ("FAILED", "KILLED", "FINISHED"):
        with mlflow.start_run(run_id=first.run_id) as again:
            assert client.get_run(again.info.run_id).info.status == "RUNNING"
            mlflow.log_metric("loss", 0.25, step=1)
            mlflow.log_param("epochs", 2)
            mlflow.set_tag("phase", ending)
            mlflow.end_run(ending)
        resumed = client.get_run(first.run_id)
        assert resumed.info.status == ending
        assert resumed.info.start_time == first.start_time
        assert resumed.info.end_time >= first.end_time
    assert resumed.data.params == {"lr": "0.1", "epochs": "2"}
    history = client.get_metric_history(first.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), *[(1, 0.25)] * 3]

    monkeypatch.setenv("TUNELAB_API_URL", logged.server.url)
    monkeypatch.setenv("TUNELAB_API_TOKEN", logged.key)
    task = Task.get_task(task_id=first.run_id)
    assert task.status == "completed"
    assert task.export_task()["user_properties"]["phase"]["value"] == "FINISHED"

    # A published run is read-only for good: it does not resume.
    task.publish()
    with pytest.raises(MlflowException) as published:
        mlflow.start_run(run_id=first.run_id)
    assert published.value.error_code == "RESOURCE_CONFLICT"
    assert mlflow.active_run() is None

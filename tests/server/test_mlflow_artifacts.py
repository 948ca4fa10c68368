"""MLflow's artifacts, logged models and model registry under ``/mlflow``: the unchanged
MLflow client stores files through the server's proxied artifact routes (they land in
Tunelab's file store as the run's task's artifacts), logs a scikit-learn model with
``autolog`` (a Tunelab output model of the task) and registers it (Tunelab models with a
version label, stage and aliases as tags)."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.accounts import login_server
from tests.services import ServerProcess
from tunelab import Task

EXPERIMENT = "mlflow/files"


@dataclass
class Served:
    server: ServerProcess
    key: str
    outsider_key: str
    client: MlflowClient
    root: Path

    @property
    def api(self) -> str:
        return f"{self.server.url}/mlflow/api/2.0"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("mlflow-files")
    kinds = {"root": "admin", "bob": "member", "carol": "member"}
    with login_server(root / "server", kinds) as (server, clients):
        keys = {
            name: str(c.headers["authorization"]).split(" ", 1)[1] for name, c in clients.items()
        }
        saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_TOKEN", "HOME")}
        os.environ["MLFLOW_TRACKING_TOKEN"] = keys["bob"]
        try:
            client = MlflowClient(tracking_uri=f"{server.url}/mlflow")
            yield Served(server, keys["bob"], keys["carol"], client, root)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _run(served: Served) -> str:
    client = served.client
    found = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    return str(client.create_run(experiment_id).info.run_id)


def test_artifacts_round_trip_byte_exact(served: Served, tmp_path: Path) -> None:
    client = served.client
    run_id = _run(served)
    assert client.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:/")
    single = tmp_path / "notes.txt"
    single.write_bytes(b"accuracy 0.93\n\x00\xff binary too")
    folder = tmp_path / "outputs"
    (folder / "plots" / "deep").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(os.urandom(300_000))
    (folder / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
    (folder / "plots" / "deep" / "100% done.txt").write_text("odd name")
    client.log_artifact(run_id, str(single))
    client.log_artifacts(run_id, str(folder), artifact_path="outputs")

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("notes.txt", False), ("outputs", True)]
    assert top[0].file_size == single.stat().st_size
    inner = client.list_artifacts(run_id, "outputs/plots")
    assert [(f.path, f.is_dir) for f in inner] == [
        ("outputs/plots/deep", True), ("outputs/plots/loss.csv", False),
    ]  # fmt: skip

    back = Path(client.download_artifacts(run_id, "outputs", str(tmp_path / "back")))
    compared = filecmp.dircmp(folder, back)
    assert not compared.left_only and not compared.right_only and not compared.diff_files
    for name in ("weights.bin", "plots/loss.csv", "plots/deep/100% done.txt"):
        assert (back / name).read_bytes() == (folder / name).read_bytes()
    one = Path(client.download_artifacts(run_id, "notes.txt", str(tmp_path / "one")))
    assert one.read_bytes() == single.read_bytes()

    # Tunelab's view: the run's task lists them as artifacts stored in its file store.
    answer = httpx.get(
        f"{served.server.url}/api/v1/tasks/{run_id}/artifacts", headers=served.headers
    ).json()
    listed = {a["metadata"]["path"]: a for a in answer["artifacts"]}
    assert set(listed) == {
        "notes.txt", "outputs/weights.bin", "outputs/plots/loss.csv",
        "outputs/plots/deep/100% done.txt",
    }  # fmt: skip
    assert listed["outputs/weights.bin"]["size"] == 300_000
    assert listed["notes.txt"]["uri"].startswith("tunelab://")

    api = f"{served.api}/mlflow-artifacts/artifacts"
    root = client.get_run(run_id).info.artifact_uri.removeprefix("mlflow-artifacts:/")
    gone = httpx.delete(f"{api}/{root}/outputs/plots", headers=served.headers)
    assert gone.status_code == 200, gone.text
    assert [f.path for f in client.list_artifacts(run_id, "outputs")] == ["outputs/weights.bin"]


def test_hostile_paths_are_refused(served: Served, tmp_path: Path) -> None:
    run_id = _run(served)
    root = served.client.get_run(run_id).info.artifact_uri.removeprefix("mlflow-artifacts:/")
    api = f"{served.api}/mlflow-artifacts/artifacts"
    for path in (
        f"{root}/../../../etc/passwd", f"{root}/a/%2E%2E/b", f"{root}/a//b",
        f"{root}/a%5Cb", f"{root}/%2E/x",
    ):  # fmt: skip
        put = httpx.put(f"{api}/{path}", content=b"x", headers=served.headers)
        assert put.status_code in (400, 404), (path, put.text)
        assert put.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    nul = httpx.put(f"{api}/{root}/a%00b", content=b"x", headers=served.headers)
    assert nul.status_code == 400
    listed = httpx.get(api, params={"path": f"{root}/../.."}, headers=served.headers)
    assert (listed.status_code, listed.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    escaped = tmp_path / "x.txt"
    escaped.write_text("x")
    with pytest.raises(MlflowException):
        served.client.log_artifact(run_id, str(escaped), artifact_path="../..")
    assert served.client.list_artifacts(run_id) == []
    assert not list(served.root.rglob("passwd"))

    outsider = {"Authorization": f"Bearer {served.outsider_key}"}
    refused = httpx.put(f"{api}/{root}/x.txt", content=b"x", headers=outsider)
    assert (refused.status_code, refused.json()["error_code"]) == (403, "PERMISSION_DENIED")
    read = httpx.get(api, params={"path": root}, headers=outsider)
    assert (read.status_code, read.json()["error_code"]) == (403, "PERMISSION_DENIED")


AUTOLOG = textwrap.dedent(
    """
    import json
    import mlflow
    from sklearn.linear_model import LogisticRegression

    mlflow.set_experiment("mlflow/autolog")
    mlflow.sklearn.autolog(log_input_examples=False, log_model_signatures=False)
    with mlflow.start_run(run_name="logreg") as run:
        LogisticRegression(C=0.5, max_iter=50).fit([[0, 0], [1, 1], [0, 1], [1, 0]] * 5,
                                                    [0, 1, 0, 1] * 5)
    print(json.dumps({"run": run.info.run_id, "model": mlflow.last_logged_model().model_id}))
    """
)


@pytest.fixture(scope="module")
def autologged(served: Served) -> dict[str, str]:
    (served.root / "fit.py").write_text(AUTOLOG)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"{served.server.url}/mlflow",
        "MLFLOW_TRACKING_TOKEN": served.key,
        "HOME": str(served.root),
        # The model's pip requirements: MLflow's defaults, not inferred by loading the model
        # in another interpreter (seconds of imports).
        "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT": "1",
    }
    done = subprocess.run(
        [sys.executable, "fit.py"], cwd=served.root, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return printed


def test_sklearn_autolog_lands_in_tunelab(
    served: Served, autologged: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, model_id = autologged["run"], autologged["model"]
    run = served.client.get_run(run_id)
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "50"
    assert run.data.metrics["training_accuracy_score"] == 1.0
    logged = served.client.get_logged_model(model_id)
    assert (logged.source_run_id, logged.status.to_proto()) == (run_id, 2)  # READY

    api = f"{served.server.url}/api/v1"
    monkeypatch.setenv("TUNELAB_API_URL", served.server.url)
    monkeypatch.setenv("TUNELAB_API_TOKEN", served.key)
    task = Task.get_task(task_id=run_id)
    assert task.get_parameters(cast=True)["MLflow/C"] == 0.5
    assert task.get_reported_scalars()["training_accuracy_score"]["training_accuracy_score"]["y"]
    model = httpx.get(f"{api}/models/{model_id}", headers=served.headers).json()
    assert (model["task_id"], model["framework"]) == (run_id, "scikit-learn")
    assert model["uri"].startswith("tunelab://") and model["uri"].endswith(model_id)
    mlmodel = httpx.get(f"{api}/files/{model['uri'].removeprefix('tunelab://')}/MLmodel",
                        headers=served.headers)  # fmt: skip
    assert mlmodel.status_code == 200 and b"sklearn" in mlmodel.content

    # The model loads back through MLflow, from the server's files.
    import mlflow.sklearn

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{served.server.url}/mlflow")
    loaded = mlflow.sklearn.load_model(f"models:/{model_id}")
    assert list(loaded.predict([[1, 1], [0, 0]])) == [1, 0]


def test_registry_versions_stages_and_aliases(
    served: Served, autologged: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    client = served.client
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{served.server.url}/mlflow")
    first = mlflow.register_model(f"models:/{autologged['model']}", "churn-clf")
    second = mlflow.register_model(f"models:/{autologged['model']}", "churn-clf")
    assert (first.version, second.version) == ("1", "2")
    client.set_registered_model_alias("churn-clf", "champion", "1")
    with pytest.warns(FutureWarning):  # stages are deprecated in MLflow, still served
        client.transition_model_version_stage("churn-clf", "2", "Production")
    client.update_registered_model("churn-clf", description="churn classifier")

    found = client.get_registered_model("churn-clf")
    assert found.description == "churn classifier"
    assert found.aliases == {"champion": "1"}
    assert client.get_model_version_by_alias("churn-clf", "champion").version == "1"
    version = client.get_model_version("churn-clf", "2")
    assert (version.current_stage, version.run_id) == ("Production", autologged["run"])
    versions = client.search_model_versions("name = 'churn-clf'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert [m.name for m in client.search_registered_models("name LIKE 'churn%'")] == ["churn-clf"]
    loaded = mlflow.sklearn.load_model("models:/churn-clf@champion")
    assert list(loaded.predict([[1, 1]])) == [1]

    # Tunelab's view: the versions are models named after the registered model.
    api = f"{served.server.url}/api/v1"
    listed = httpx.get(f"{api}/models", params={"name": "churn-clf"}, headers=served.headers).json()
    tags = sorted(tuple(m["tags"]) for m in listed["items"] if m["name"] == "churn-clf")
    assert tags == [
        ("mlflow:alias=champion", "mlflow:stage=None", "mlflow:version=1"),
        ("mlflow:registered",),
        ("mlflow:stage=Production", "mlflow:version=2"),
    ]
    assert {m["framework"] for m in listed["items"] if "mlflow:version=1" in m["tags"]} == {
        "scikit-learn"
    }

    # Renamed: the registered model and its versions; a name taken is MLflow's error.
    client.create_registered_model("churn-taken")
    with pytest.raises(MlflowException) as taken:
        client.rename_registered_model("churn-clf", "churn-taken")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.rename_registered_model("churn-clf", "churn-model")
    renamed = client.get_registered_model("churn-model")
    assert (renamed.name, renamed.description) == ("churn-model", "churn classifier")
    assert renamed.aliases == {"champion": "1"}
    versions = client.search_model_versions("name = 'churn-model'")
    assert sorted((v.version, v.current_stage) for v in versions) == [
        ("1", "None"),
        ("2", "Production"),
    ]
    loaded = mlflow.sklearn.load_model("models:/churn-model@champion")
    assert list(loaded.predict([[1, 1]])) == [1]
    with pytest.raises(MlflowException) as old_name:
        client.get_model_version("churn-clf", "1")
    assert old_name.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    for name, count in (("churn-model", 3), ("churn-clf", 0)):
        listed = httpx.get(f"{api}/models", params={"name": name}, headers=served.headers).json()
        assert len([m for m in listed["items"] if m["name"] == name]) == count
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model("no-such-model")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

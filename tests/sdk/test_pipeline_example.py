"""The pipeline example end to end, as real processes against a real server: a
preprocessing task stores a DataFrame artifact; a training task pulls the newest one by
project and task name, trains on it and saves a model that becomes its output model."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.scripts import run_script, script_env
from tunelab.sdk.transport import ApiClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipeline"


def _run(name: str, api_url: str, work: Path, *args: str) -> str:
    script = work / name
    shutil.copy(EXAMPLES / name, script)
    result = run_script(script, script_env(api_url, work / "home"), *args, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_training_pulls_the_newest_features_by_name(api_url: str, tmp_path: Path) -> None:
    with ApiClient(api_url) as client:
        _run("preprocess.py", api_url, tmp_path, "--samples", "400")
        out = _run("train.py", api_url, tmp_path)
        assert "trained on 400 rows" in out

        _run("preprocess.py", api_url, tmp_path, "--samples", "900")  # new data arrives
        out = _run("train.py", api_url, tmp_path)
        assert "trained on 900 rows" in out

        runs = client.list_tasks(project="examples/pipeline", order_by="-created")["items"]
        train, preprocess = (client.get_task(t["id"]) for t in runs[:2])
        assert (train["name"], preprocess["name"]) == ("train", "preprocess")
        assert train["user_properties"]["features_task"]["value"] == preprocess["id"]
        features = preprocess["artifacts"]["features"]
        assert features["type"] == "dataframe" and features["format"] == "parquet"
        assert "900" in features["preview"]  # the shape, as the preview shows it
        validation = client.get_metrics(train["id"])["metrics"]["mse"]["validation"]
        assert validation["last"] < 0.01  # it learned the relation, from the artifact's data
        (model,) = train["output_models"]
        assert model["name"] == "linear.joblib"
        assert model["uri"].startswith("tunelab://")  # output_uri=True: uploaded

"""XGBoost, LightGBM, scikit-learn and Keras captured on their own: real scripts against a
real server report each boosting round / epoch as scalars (counts and values exactly those the
library keeps itself) and register saved models (the right framework, the file downloadable
and loadable back by the library); ``pickle.dump`` is not captured; switched off, nothing is;
with the hooks broken, the script prints and exits as it does without them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.scripts import script_env, unique, write_script
from tests.sdk.capture import faulty_hooks
from tests.services import ServerProcess
from tunelab import InputModel
from tunelab.sdk.transport import ApiClient

# Boosting with XGBoost and LightGBM, a scikit-learn estimator saved with joblib and pickle.
BOOSTING = """
import json, pickle, sys
import numpy as np
from tunelab import Task

task = Task.init(project_name={project!r}, task_name="boosting", output_uri={share!r},
                 auto_connect_frameworks={frameworks!r})
print("TASK", task.id)
import lightgbm as lgb
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
import joblib

rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4))
y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype(int)
train, valid = slice(0, 200), slice(200, 300)

evals = {{}}
booster = xgb.train(
    {{"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "max_depth": 2}},
    xgb.DMatrix(X[train], label=y[train]), num_boost_round=7,
    evals=[(xgb.DMatrix(X[train], label=y[train]), "train"),
           (xgb.DMatrix(X[valid], label=y[valid]), "valid")],
    evals_result=evals, verbose_eval=False,
)
booster.save_model("booster.json")
refit = {{}}  # a second training of the run: its curves keep apart
xgb.train({{"objective": "binary:logistic"}}, xgb.DMatrix(X[train], label=y[train]),
          num_boost_round=2, evals=[(xgb.DMatrix(X[valid], label=y[valid]), "valid")],
          evals_result=refit, verbose_eval=False)

recorded = {{}}
gbm = lgb.train(
    {{"objective": "binary", "metric": ["binary_logloss", "auc"], "num_leaves": 4,
      "verbose": -1}},
    lgb.Dataset(X[train], label=y[train]), num_boost_round=5,
    valid_sets=[lgb.Dataset(X[valid], label=y[valid])], valid_names=["holdout"],
    callbacks=[lgb.record_evaluation(recorded)],
)
gbm.save_model("gbm.txt")

estimator = LogisticRegression().fit(X[train], y[train])
joblib.dump(estimator, "estimator.joblib")
with open("estimator.pkl", "wb") as handle:
    pickle.dump(estimator, handle)
print("RESULT " + json.dumps({{"xgboost": evals, "refit": refit, "lightgbm": recorded,
                              "proba": estimator.predict_proba(X[valid]).tolist()}}))
print("done")
"""

KERAS = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras
import numpy as np
from tunelab import Task

task = Task.init(project_name={project!r}, task_name="keras", output_uri={share!r})
print("TASK", task.id)
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 4)).astype("float32")
y = (X[:, 0] > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, epochs=3, batch_size=50, validation_split=0.25, verbose=0)
model.save("model.keras")
model.save_weights("model.weights.h5")
print("RESULT " + json.dumps({{"history": history.history,
                              "predicted": model.predict(X[:5], verbose=0).tolist()}}))
first = task.id
task.close()

# The same process, Keras switched off: the patched fit and save report nothing.
task = Task.init(project_name={project!r}, task_name="keras-off", output_uri={share!r},
                 auto_connect_frameworks={{"tensorflow": False}})
print("TASK", task.id)
model.fit(X, y, epochs=2, batch_size=50, validation_split=0.25, verbose=0)
model.save("off.keras")
task.close()

# The saved model, downloaded from where the task stored it and loaded back by Keras.
(saved,) = [m for m in Task.get_task(task_id=first).models["output"] if m.name == "model.keras"]
loaded = keras.saving.load_model(saved.get_local_copy())
print("LOADED " + json.dumps(loaded.predict(X[:5], verbose=0).tolist()))
print("done")
"""

OFF = {"xgboost": False, "lightgbm": False, "scikit": False}


@dataclass(frozen=True)
class Run:
    body: str
    frameworks: Any = True
    broken: bool = False


# Run at once, side by side (each in a folder of its own): the module's time is one script's.
RUNS = {
    "boosting": Run(BOOSTING),
    "broken": Run(BOOSTING, broken=True),
    "off": Run(BOOSTING, OFF),
    "keras": Run(KERAS),
}


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str
    folder: Path

    @property
    def task_ids(self) -> list[str]:
        return [x.split()[1] for x in self.stdout.splitlines() if x.startswith("TASK ")]

    @property
    def result(self) -> dict[str, Any]:
        line = next(x for x in self.stdout.splitlines() if x.startswith("RESULT "))
        loaded: dict[str, Any] = json.loads(line[len("RESULT ") :])
        return loaded

    @property
    def own_lines(self) -> list[str]:
        return [x for x in self.stdout.splitlines() if not x.startswith(("TASK ", "Tunelab: "))]


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[ApiClient]:
    with ApiClient(server.url) as api:
        yield api


@pytest.fixture(scope="module")
def runs(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    started = {}
    for name, run in RUNS.items():
        folder = tmp_path_factory.mktemp(f"frameworks-{name}")
        share = (folder / "share").as_uri()
        body = run.body.format(project=unique(name), share=share, frameworks=run.frameworks)
        script = write_script(folder / "code", body)
        wrapper = [sys.executable, faulty_hooks.__file__, *(["--broken"] if run.broken else [])]
        started[name] = (
            folder,
            subprocess.Popen(
                [*wrapper, str(script)], cwd=script.parent, env=script_env(server.url, folder),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ),
        )  # fmt: skip
    done = {}
    for name, (folder, process) in started.items():
        stdout, stderr = process.communicate(timeout=180)
        done[name] = Done(process.returncode, stdout, stderr, folder)
    return done


def _curves(client: ApiClient, task_id: str) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    metrics = client.get_scalars(task_id, max_points=0)["metrics"]
    return {
        title: {series: (line["x"], line["y"]) for series, line in lines.items()}
        for title, lines in metrics.items()
        if not title.startswith(":monitor:")
    }


def _models(client: ApiClient, task_id: str) -> dict[str, dict[str, Any]]:
    models = client.get_task(task_id)["output_models"]
    return {record["name"]: record for record in (client.get_model(m["id"]) for m in models)}


def _local_copy(record: dict[str, Any]) -> Path:
    path = InputModel(model_id=record["id"]).get_local_copy()
    assert path is not None
    return Path(path)


def test_boosting_rounds_land_as_scalars_with_the_librarys_own_values(
    runs: dict[str, Done], client: ApiClient
) -> None:
    run = runs["boosting"]
    assert run.returncode == 0, run.stderr
    assert "tunelab: could not capture" not in run.stderr, run.stderr
    evals, recorded = run.result["xgboost"], run.result["lightgbm"]
    # As ClearML: the eval set is the title, the metric the series, rounds from 0.
    assert _curves(client, run.task_ids[0]) == {
        "train": {m: (list(range(7)), evals["train"][m]) for m in ("logloss", "error")},
        "valid": {m: (list(range(7)), evals["valid"][m]) for m in ("logloss", "error")},
        "valid - 1": {"logloss": ([0, 1], run.result["refit"]["valid"]["logloss"])},
        "holdout": {m: (list(range(5)), recorded["holdout"][m]) for m in ("binary_logloss", "auc")},
    }


def test_saved_models_are_output_models_loadable_by_their_library(
    runs: dict[str, Done], client: ApiClient, api_url: str
) -> None:
    # Imported here: collecting the suite stays as quick as it was.
    import joblib
    import lightgbm as lgb
    import xgboost as xgb

    run = runs["boosting"]
    assert run.returncode == 0, run.stderr
    models = _models(client, run.task_ids[0])
    # pickle.dump is left alone, as ClearML leaves it.
    assert {name: r["framework"] for name, r in models.items()} == {
        "booster.json": "XGBoost",
        "gbm.txt": "LightGBM",
        "estimator.joblib": "ScikitLearn",
    }
    share = (run.folder / "share").as_uri()
    assert all(r["uri"].startswith(share) for r in models.values())  # uploaded, not local paths
    booster = xgb.Booster(model_file=str(_local_copy(models["booster.json"])))
    assert booster.num_boosted_rounds() == 7
    gbm = lgb.Booster(model_file=str(_local_copy(models["gbm.txt"])))
    assert gbm.num_trees() == 5
    estimator = joblib.load(_local_copy(models["estimator.joblib"]))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    assert estimator.predict_proba(X[200:]).tolist() == run.result["proba"]


def test_keras_epochs_and_saved_models(runs: dict[str, Done], client: ApiClient) -> None:
    run = runs["keras"]
    assert run.returncode == 0, run.stderr
    assert "tunelab: could not capture" not in run.stderr, run.stderr
    history = run.result["history"]
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    on, off = run.task_ids
    # ClearML's names for what Keras's TensorBoard callback writes: one graph per metric.
    assert _curves(client, on) == {
        f"epoch_{name}": {
            f"epoch_{name}": ([0, 1, 2], history[name]),
            f"validation: epoch_{name}": ([0, 1, 2], history[f"val_{name}"]),
        }
        for name in ("accuracy", "loss")
    }
    models = _models(client, on)
    assert {name: r["framework"] for name, r in models.items()} == {
        "model.keras": "Keras",
        "model.weights.h5": "Keras",
    }
    # Switched off in the same process: the patched methods report nothing.
    assert _curves(client, off) == {}
    assert client.get_task(off)["output_models"] == []


def test_a_saved_keras_model_loads_back(runs: dict[str, Done], client: ApiClient) -> None:
    run = runs["keras"]
    assert run.returncode == 0, run.stderr
    record = _models(client, run.task_ids[0])["model.keras"]
    assert record["uri"].startswith((run.folder / "share").as_uri())
    # The script downloaded it from there (InputModel.get_local_copy) and predicted with it.
    line = next(x for x in run.stdout.splitlines() if x.startswith("LOADED "))
    assert json.loads(line[len("LOADED ") :]) == run.result["predicted"]


def test_switched_off_nothing_is_captured(runs: dict[str, Done], client: ApiClient) -> None:
    run, clean = runs["off"], runs["boosting"]
    assert run.returncode == 0, run.stderr
    assert run.own_lines[-1] == "done"
    (task_id,) = run.task_ids
    assert _curves(client, task_id) == {}
    assert client.get_task(task_id)["output_models"] == []
    assert run.result["xgboost"] == clean.result["xgboost"]  # training itself unchanged


def test_a_broken_hook_leaves_the_script_as_it_is(runs: dict[str, Done], client: ApiClient) -> None:
    clean, faulty = runs["boosting"], runs["broken"]
    assert faulty.returncode == clean.returncode == 0, faulty.stderr
    assert faulty.own_lines == clean.own_lines
    broken = (
        "the XGBoost training curves",
        "the LightGBM training curves",
        "the model saved with XGBoost",
        "the model saved with LightGBM",
    )
    for what in broken:
        assert faulty.stderr.count(f"tunelab: could not capture {what}: ") == 1, faulty.stderr
    (task_id,) = faulty.task_ids
    assert _curves(client, task_id) == {}
    assert set(_models(client, task_id)) <= {"estimator.joblib"}
    recorded = {w["what"] for w in client.get_task(task_id)["capture_warnings"]}
    assert set(broken) <= recorded

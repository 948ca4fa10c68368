"""The explicit framework hooks, each in a real script against a real server: a Transformers
``Trainer`` with ``TunelabCallback`` (tiny BERT built from a config), a Lightning ``Trainer``
with ``TunelabLogger`` and a ``ModelCheckpoint``, and a Keras 3 model (torch backend) fit
with ``TunelabCallback``. What each framework recorded itself (the Trainer's log_history,
Lightning's metrics seen by a second logger, Keras' History) is what lands on the task."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.scripts import script_env, unique, write_script
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient

TRANSFORMERS = """
import json
import torch
from transformers import (BertConfig, BertForSequenceClassification, Trainer,
                          TrainingArguments)
from tunelab.integrations.transformers import TunelabCallback

class Examples(torch.utils.data.Dataset):
    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 50, (8, 6), generator=generator)
        self.labels = torch.randint(0, 2, (8,), generator=generator)
    def __len__(self):
        return len(self.labels)
    def __getitem__(self, i):
        return {{"input_ids": self.ids[i], "labels": self.labels[i]}}

torch.manual_seed(0)
model = BertForSequenceClassification(BertConfig(
    vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
    intermediate_size=16))
args = TrainingArguments(output_dir="out", per_device_train_batch_size=4, num_train_epochs=2,
                         logging_steps=1, eval_strategy="epoch", report_to=[], use_cpu=True,
                         disable_tqdm=True, learning_rate=0.001, hub_token="very-secret")
callback = TunelabCallback(project_name={project!r}, task_name="bert", log_checkpoints=True)
trainer = Trainer(model=model, args=args, train_dataset=Examples(), eval_dataset=Examples(),
                  callbacks=[callback])
trainer.train()
print("TASK", callback.task.id)
print("HISTORY", json.dumps(trainer.state.log_history))
"""

LIGHTNING = """
import json
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers.logger import Logger
from tunelab.integrations.lightning import TunelabLogger

class Recorder(Logger):
    seen = []
    name, version = "recorder", "0"
    def log_metrics(self, metrics, step=None):
        self.seen.append([{{k: float(v) for k, v in metrics.items()}}, step])
    def log_hyperparams(self, params, *args, **kwargs):
        pass

class Tiny(LightningModule):
    def __init__(self, lr=0.1, optim={{"name": "sgd", "momentum": 0.5}}, layers=[4, 1]):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss)
        return loss
    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.5)

torch.manual_seed(0)
data = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randn(8, 1))
loader = torch.utils.data.DataLoader(data, batch_size=4)
logger = TunelabLogger(project_name={project!r}, task_name="tiny")
checkpoints = ModelCheckpoint(dirpath="checkpoints", monitor="val_loss", save_last=True)
trainer = Trainer(logger=[logger, Recorder()], max_epochs=2, callbacks=[checkpoints],
                  log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                  accelerator="cpu")
trainer.fit(Tiny(), loader, loader)
print("TASK", logger.version)
print("NAME", logger.name, logger.experiment.id == logger.version)
print("CHECKPOINTS", json.dumps([checkpoints.best_model_path, checkpoints.last_model_path]))
print("HISTORY", json.dumps(Recorder.seen))
"""

KERAS = """
import json, os
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np
import keras
from tunelab import Task
from tunelab.integrations.keras import TunelabCallback

# Reported through the callback: Task.init's own Keras capture is off.
task = Task.init(project_name={project!r}, task_name="keras",
                 auto_connect_frameworks={{"keras": False}})
print("TASK", task.id)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
rng = np.random.default_rng(0)
x, y = rng.normal(size=(16, 4)), rng.normal(size=(16, 1))
history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0, callbacks=[
    keras.callbacks.ModelCheckpoint("model-{{epoch}}.keras"),
    TunelabCallback(checkpoint="model-{{epoch}}.keras"),
])
print("HISTORY", json.dumps(history.history))
"""

SCRIPTS = {"transformers": TRANSFORMERS, "lightning": LIGHTNING, "keras": KERAS}


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    def line(self, label: str) -> str:
        return next(x for x in self.stdout.splitlines() if x.startswith(f"{label} "))[
            len(label) + 1 :
        ]

    @property
    def task_id(self) -> str:
        return self.line("TASK")

    @property
    def history(self) -> Any:
        return json.loads(self.line("HISTORY"))


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[ApiClient]:
    with ApiClient(server.url) as api:
        yield api


@pytest.fixture(scope="module")
def runs(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    # Side by side, each in a folder of its own: the module takes the slowest script's time.
    started = {}
    for name, body in SCRIPTS.items():
        folder = tmp_path_factory.mktemp(f"hooks-{name}")
        script = write_script(folder / "code", body.format(project=unique(name)))
        started[name] = subprocess.Popen(
            [sys.executable, str(script)], cwd=script.parent, env=script_env(server.url, folder),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    done = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=180)
        done[name] = Done(process.returncode, stdout, stderr)
    return done


def _ran(run: Done) -> None:
    assert run.returncode == 0, run.stderr
    assert "tunelab: could not capture" not in run.stderr, run.stderr


def _curves(client: ApiClient, task_id: str) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    metrics = client.get_scalars(task_id, max_points=0)["metrics"]
    return {
        title: {series: (s["x"], s["y"]) for series, s in by_series.items()}
        for title, by_series in metrics.items()
        if not title.startswith(":monitor:")
    }


def _params(client: ApiClient, task_id: str, section: str) -> dict[str, tuple[str, str]]:
    params = client.get_task(task_id)["hyperparameters"][section]
    return {name: (p["value"], p["type"]) for name, p in params.items()}


def _models(client: ApiClient, task_id: str) -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = client.list_models(task_id=task_id)["items"]
    return models


def test_a_transformers_trainer_reports_through_the_callback(
    runs: dict[str, Done], client: ApiClient
) -> None:
    run = runs["transformers"]
    _ran(run)
    history = run.history
    curves = _curves(client, run.task_id)
    steps = [h for h in history if "loss" in h]
    assert len(steps) == 4  # 8 examples, batches of 4, 2 epochs, a log every step
    assert curves["train"]["loss"] == ([h["step"] for h in steps], [h["loss"] for h in steps])
    assert curves["train"]["learning_rate"][1] == [h["learning_rate"] for h in steps]
    evals = [h for h in history if "eval_loss" in h]
    assert curves["eval"]["loss"] == ([h["step"] for h in evals], [h["eval_loss"] for h in evals])
    summary = next(h for h in history if "train_loss" in h)
    assert curves["Summary"]["train_loss"][1] == [summary["train_loss"]]
    assert "epoch" not in curves["train"]  # a single value, as ClearMLCallback reports it

    params = _params(client, run.task_id, "Transformers")
    assert params["learning_rate"] == ("0.001", "float")
    assert params["num_train_epochs"] == ("2", "int")
    assert params["eval_strategy"] == ("epoch", "str")  # the enum's value
    assert params["model/hidden_size"] == ("16", "int")
    assert params["model/model_type"] == ("bert", "str")
    assert "hub_token" not in params
    assert "very-secret" not in json.dumps(params)

    models = {m["name"]: m for m in _models(client, run.task_id)}
    # The Trainer saves once, at its last step: that checkpoint, and the final model.
    assert {name: m["tags"] for name, m in models.items()} == {
        "checkpoint-4": ["checkpoint"],
        "BertForSequenceClassification": ["final"],
    }
    model = models["BertForSequenceClassification"]
    assert model["uri"].endswith("/model.safetensors") and model["size"] > 0
    assert json.loads(model["config_text"])["hidden_size"] == 16
    task = client.get_task(run.task_id)
    assert task["project"]["name"].startswith("transformers-")  # the task it started


def test_a_lightning_trainer_reports_through_the_logger(
    runs: dict[str, Done], client: ApiClient
) -> None:
    run = runs["lightning"]
    _ran(run)
    task = client.get_task(run.task_id)
    assert run.line("NAME") == f"{task['project']['name']} True"
    seen = run.history
    curves = _curves(client, run.task_id)
    train = [(step, m["train/loss"]) for m, step in seen if "train/loss" in m]
    val = [(step, m["val_loss"]) for m, step in seen if "val_loss" in m]
    assert len(train) == 4 and len(val) == 2
    assert curves["train"]["loss"] == ([s for s, _ in train], [v for _, v in train])
    assert curves["val_loss"]["val_loss"] == ([s for s, _ in val], [v for _, v in val])
    assert "epoch" in curves  # Lightning logs the epoch with each step

    assert _params(client, run.task_id, "Lightning") == {
        "lr": ("0.1", "float"),
        "optim/name": ("sgd", "str"),
        "optim/momentum": ("0.5", "float"),
        "layers": ("[4, 1]", "list"),
    }

    best, last = json.loads(run.line("CHECKPOINTS"))
    models = {m["name"]: m for m in _models(client, run.task_id)}
    assert models.keys() >= {best.rsplit("/", 1)[-1], last.rsplit("/", 1)[-1]}
    assert "best" in models[best.rsplit("/", 1)[-1]]["tags"]
    assert "last" in models["last.ckpt"]["tags"]
    assert all(m["size"] > 0 and m["framework"] == "PyTorch" for m in models.values())


def test_a_keras_fit_reports_through_the_callback(runs: dict[str, Done], client: ApiClient) -> None:
    run = runs["keras"]
    _ran(run)
    history = run.history
    curves = _curves(client, run.task_id)
    assert {k for k in history} >= {"loss", "mae", "val_loss", "val_mae"}
    for key, values in history.items():
        name = key.removeprefix("val_")
        title, series = f"epoch_{name}", ("validation: " if name != key else "") + f"epoch_{name}"
        assert curves[title][series] == ([0, 1], pytest.approx(values, rel=1e-6))

    params = _params(client, run.task_id, "Keras")
    assert params["epochs"] == ("2", "int")
    assert params["steps"] == ("2", "int")  # 12 training examples, batches of 8

    models = sorted((m["name"], m["framework"], m["tags"]) for m in _models(client, run.task_id))
    assert models == [
        ("model-1.keras", "Keras", ["checkpoint"]),
        ("model-2.keras", "Keras", ["checkpoint"]),
    ]

"""jsonargparse and LightningCLI scripts in a real git repository: run locally with a
``--config`` file and command-line values, their final values are recorded; cloned, edited
through the API and enqueued, a real agent re-runs them with the edits, typed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import run_script, script_env, unique
from tests.services import ServerProcess
from tests.waiting import final_status
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.slow

# The CPU build of torch, as the machine has it (PyPI's default build would pull CUDA).
TORCH_WHEELS = "/opt/wheels"

JSONARGPARSE_CLI = """
import json
from dataclasses import dataclass
from jsonargparse import CLI
from tunelab import Task

Task.init(project_name=PROJECT, task_name="fit")

@dataclass
class Model:
    hidden: int = 4
    act: str = "tanh"

def fit(model: Model, lr: float = 0.1, epochs: int = 1, tags: list = []):
    seen = {"hidden": model.hidden, "act": model.act, "lr": lr, "epochs": epochs, "tags": tags}
    print("VALUES " + json.dumps({k: [v, type(v).__name__] for k, v in seen.items()}))

CLI(fit)
"""

LIGHTNING_CLI = """
import json
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningCLI
from tunelab import Task

Task.init(project_name=PROJECT, task_name="lightning")

class Net(LightningModule):
    def __init__(self, hidden: int = 4, lr: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layers = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def training_step(self, batch, _index):
        x, y = batch
        return nn.functional.mse_loss(self.layers(x), y)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        data = TensorDataset(torch.randn(32, 3, generator=g), torch.randn(32, 1, generator=g))
        return DataLoader(data, batch_size=8)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

cli = LightningCLI(Net, save_config_callback=None)
seen = {"hidden": cli.model.hparams.hidden, "lr": cli.model.hparams.lr,
        "max_epochs": cli.trainer.max_epochs, "epochs_run": cli.trainer.current_epoch,
        "width": cli.model.layers[0].out_features}
print("VALUES " + json.dumps({k: [v, type(v).__name__] for k, v in seen.items()}))
"""

LIGHTNING_CONFIG = """
model:
  hidden: 8
trainer:
  max_epochs: 1
  accelerator: cpu
  logger: false
  enable_checkpointing: false
  enable_progress_bar: false
  enable_model_summary: false
"""


@pytest.fixture(scope="module")
def queue(server: ServerProcess, home: Path) -> Iterator[str]:
    """One agent for the module, finding torch's CPU wheel through uv's own find-links
    setting; uv's package cache is the machine's, so packages are downloaded once."""
    name = unique("lightning-cli")
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    env = {"UV_CACHE_DIR": uv_cache, "UV_FIND_LINKS": TORCH_WHEELS}
    with agent_daemon(server.url, home, name, env=env):
        yield name


def _values(output: str) -> dict[str, Any]:
    line = next(x for x in output.splitlines() if x.startswith("VALUES "))
    values: dict[str, Any] = json.loads(line.removeprefix("VALUES "))
    return values


def _run_locally(
    server: ServerProcess, home: Path, client: ApiClient, files: dict[str, str], *args: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run train.py of a new repository holding ``files``: (its VALUES, its task)."""
    project = unique("jsonargparse-rerun")
    files = {**files, "train.py": f"PROJECT = {project!r}\n{files['train.py']}"}
    repo = new_repo(home / project, files)
    local = run_script(repo / "train.py", script_env(server.url, home), *args, timeout=120)
    assert local.returncode == 0, local.stderr
    assert "tunelab: could not capture" not in local.stderr, local.stderr
    task = client.get_task(client.list_tasks(project=project)["items"][0]["id"])
    return _values(local.stdout), task


def _rerun_edited(
    client: ApiClient, queue: str, original: dict[str, Any], edits: dict[str, tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Clone, edit ``{name: (value, type)}`` in Args, enqueue: (the re-run's VALUES, task)."""
    draft = client.clone_task(original["id"])
    body = {name: {"value": v, "type": t, "description": ""} for name, (v, t) in edits.items()}
    client.set_hyperparameters(draft["id"], {"Args": body})
    client.enqueue_task(draft["id"], queue=queue)
    done = final_status(client, draft["id"], timeout=300)
    console = "\n".join(x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"])
    assert done["status"] == "completed", console
    assert "tunelab: could not capture" not in console, console
    return _values(console), done


def _args(task: dict[str, Any]) -> dict[str, tuple[str, str]]:
    section = task["hyperparameters"]["Args"]
    return {name: (body["value"], body["type"]) for name, body in section.items()}


def test_a_jsonargparse_cli_reruns_with_the_edited_values(
    server: ServerProcess, client: ApiClient, home: Path, queue: str
) -> None:
    files = {"train.py": JSONARGPARSE_CLI, "fit.yaml": "model:\n  act: relu\nlr: 0.5\n"}
    values, original = _run_locally(
        server, home, client, files, "--config", "fit.yaml", "--model.hidden", "16"
    )
    assert values == {"hidden": [16, "int"], "act": ["relu", "str"], "lr": [0.5, "float"],
                      "epochs": [1, "int"], "tags": [[], "list"]}  # fmt: skip
    recorded = _args(original)
    assert recorded["config"] == ('["fit.yaml"]', "jsonargparse_path")
    assert recorded["model.hidden"] == ("16", "int")
    assert recorded["model.act"] == ("relu", "str")  # from the config file
    assert recorded["lr"] == ("0.5", "float")
    assert recorded["tags"] == ("[]", "list")

    edits = {"model.hidden": ("64", "int"), "epochs": ("3", "int"), "tags": ('["a", "b"]', "list")}
    values, rerun = _rerun_edited(client, queue, original, edits)
    assert values == {"hidden": [64, "int"], "act": ["relu", "str"], "lr": [0.5, "float"],
                      "epochs": [3, "int"], "tags": [["a", "b"], "list"]}  # fmt: skip
    assert _args(rerun)["model.hidden"] == ("64", "int")


def test_a_lightning_cli_reruns_with_the_edited_model_and_trainer(
    server: ServerProcess, client: ApiClient, home: Path, queue: str
) -> None:
    files = {"train.py": LIGHTNING_CLI, "config.yaml": LIGHTNING_CONFIG}
    values, original = _run_locally(
        server, home, client, files, "fit", "--config", "config.yaml", "--model.lr", "0.05"
    )
    assert values == {"hidden": [8, "int"], "lr": [0.05, "float"], "max_epochs": [1, "int"],
                      "epochs_run": [1, "int"], "width": [8, "int"]}  # fmt: skip
    recorded = _args(original)
    assert recorded["subcommand"] == ("fit", "jsonargparse.Command")
    assert recorded["fit.config"] == ('["config.yaml"]', "jsonargparse_path")
    assert recorded["fit.model.hidden"] == ("8", "int")  # from the config file
    assert recorded["fit.model.lr"] == ("0.05", "float")  # from the command line
    assert recorded["fit.trainer.max_epochs"] == ("1", "int")
    assert recorded["fit.trainer.accelerator"] == ("cpu", "str")
    # LightningCLI's script never imports jsonargparse: the run records that it needs it.
    requirements = original["execution"]["requirements"].lower().splitlines()
    assert any(line.startswith("jsonargparse==") for line in requirements), requirements

    edits = {"fit.model.hidden": ("32", "int"), "fit.trainer.max_epochs": ("2", "int")}
    values, _ = _rerun_edited(client, queue, original, edits)
    assert values == {"hidden": [32, "int"], "lr": [0.05, "float"], "max_epochs": [2, "int"],
                      "epochs_run": [2, "int"], "width": [32, "int"]}  # fmt: skip

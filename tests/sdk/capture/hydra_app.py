"""A Hydra example app (the shape of ClearML's hydra_example.py) with a config group, for the
tests that run it locally and under an agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.scripts import write_script

# The shape of ClearML's examples/frameworks/hydra/hydra_example.py, with a config group.
APP = """
import json
import hydra
from omegaconf import OmegaConf
from tunelab import Task


@hydra.main(config_path="conf", config_name="config", version_base=None)
def my_app(cfg):
    task = Task.init(project_name=PROJECT, task_name="Hydra configuration")
    logger = task.get_logger()
    logger.report_text("You can view your full hydra configuration under Configuration tab")
    print(OmegaConf.to_yaml(cfg))
    print("CFG " + json.dumps(OmegaConf.to_container(cfg)))


if __name__ == "__main__":
    my_app()
"""

CONFIG = """\
defaults:
  - db: mysql
  - _self_

dataset:
  data: rawdata.csv
  user: root
training:
  lr: 0.1
  epochs: 2
"""

CONFIG_FILES = {
    "conf/config.yaml": CONFIG,
    "conf/db/mysql.yaml": "driver: mysql\nport: 3306\n",
    "conf/db/postgresql.yaml": "driver: postgresql\nport: 5432\n",
}

COMPOSED = {
    "db": {"driver": "mysql", "port": 3306},
    "dataset": {"data": "rawdata.csv", "user": "root"},
    "training": {"lr": 0.1, "epochs": 2},
}


def hydra_app(folder: Path, project: str, body: str = APP) -> Path:
    """The example app with its conf/ folder, in ``folder``."""
    for name, text in CONFIG_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return write_script(folder, f"PROJECT = {project!r}\n{body}", name="app.py")


def printed_cfgs(stdout: str) -> list[Any]:
    return [json.loads(x[4:]) for x in stdout.splitlines() if x.startswith("CFG ")]


def param(value: str, kind: str = "str") -> dict[str, str]:
    return {"value": value, "type": kind, "description": ""}

"""Remote mode: with TUNELAB_TASK_ID set, the unchanged script runs with the task's stored
values, cast to the types the code uses (what an agent relies on)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.transport import ApiClient

SCRIPT = """
import argparse, json, os
from tunelab import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--layers", type=int, nargs="+", default=[64])
parser.add_argument("--amp", action="store_true")
args = parser.parse_args()          # parsed BEFORE Task.init, as scripts usually do

task = Task.init(project_name="ignored under an agent", task_name="ignored")
params = {"batch": 32, "dropout": 0.5, "opt": {"name": "sgd", "nesterov": False}, "new_key": 7}
task.connect(params)
cfg = task.connect_configuration({"depth": 18}, name="model")
path = task.connect_configuration(CONFIG_FILE, name="data")
print("RESULT " + json.dumps({
    "lr": args.lr, "layers": args.layers, "amp": args.amp,
    "batch": params["batch"], "dropout": params["dropout"], "opt": params["opt"],
    "cfg": cfg, "file": open(path).read(), "env": os.environ.get("DATA_ROOT"),
}))
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _draft(client: ApiClient, project: str) -> str:
    def p(value: str, kind: str) -> dict[str, str]:
        return {"value": value, "type": kind, "description": ""}

    task = client.create_task(
        {
            "name": "edited",
            "project": project,
            "status": "draft",
            "hyperparameters": {
                "Args": {
                    "lr": p("0.75", "float"),
                    "layers": p("[128, 64]", "list"),
                    "amp": p("true", "bool"),
                },
                "General": {
                    "batch": p("256", "int"),
                    "dropout": p("0.25", "float"),
                    "opt/name": p("adam", "str"),
                    "opt/nesterov": p("True", "bool"),
                },
                "Environment": {"DATA_ROOT": p("/mnt/data", "str")},
            },
            "configuration": {
                "model": {"type": "dictionary", "text": '{"depth": 50}', "description": ""},
                "data": {"type": "yaml", "text": "split: val\n", "description": ""},
            },
        }
    )
    return str(task["id"])


def test_stored_values_replace_the_codes_with_their_types(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id = _draft(client, unique("remote"))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "data.yaml").write_text("split: train\n")
    script = write_script(tmp_path / "code", f"CONFIG_FILE = 'data.yaml'\n{SCRIPT}")
    env = script_env(api_url, tmp_path, TUNELAB_TASK_ID=task_id)
    result = run_script(script, env, "--lr", "0.001")  # the stored value still wins
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    seen = json.loads(line.removeprefix("RESULT "))
    assert seen == {
        "lr": 0.75,
        "layers": [128, 64],
        "amp": True,
        "batch": 256,
        "dropout": 0.25,
        "opt": {"name": "adam", "nesterov": True},
        "cfg": {"depth": 50},
        "file": "split: val\n",
        "env": "/mnt/data",
    }
    task = client.get_task(task_id)
    assert task["name"] == "edited"  # attached, not created
    assert task["status"] == "completed"
    general = task["hyperparameters"]["General"]
    assert general["batch"]["value"] == "256"  # the stored value was not overwritten
    assert "new_key" in general, result.stderr
    assert general["new_key"] == {"value": "7", "type": "int", "description": ""}


def test_a_value_that_cannot_be_cast_fails_clearly(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    task_id = _draft(client, unique("remote-bad"))
    client.set_hyperparameters(
        task_id, {"General": {"batch": {"value": "lots", "type": "int", "description": ""}}}
    )
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "data.yaml").write_text("x: 1\n")
    script = write_script(tmp_path / "code", f"CONFIG_FILE = 'data.yaml'\n{SCRIPT}")
    result = run_script(script, script_env(api_url, tmp_path, TUNELAB_TASK_ID=task_id))
    assert result.returncode == 1
    assert "parameter 'batch'" in result.stderr and "lots" in result.stderr
    assert client.get_task(task_id)["status"] == "failed"


CLICK_SCRIPT = """
import json
import click
from tunelab import Task

@click.command()
@click.option("--lr", type=float, default=0.1)
@click.option("--epochs", type=int, default=1)
@click.option("--fast/--slow", default=False)
def main(lr, epochs, fast):
    Task.init(project_name="ignored", task_name="ignored")
    print("RESULT " + json.dumps({"lr": lr, "epochs": epochs, "fast": fast}))

main()
"""


def test_click_options_take_the_stored_values(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    def p(value: str, kind: str) -> dict[str, str]:
        return {"value": value, "type": kind, "description": ""}

    task = client.create_task(
        {
            "name": "click",
            "project": unique("remote-click"),
            "status": "draft",
            "hyperparameters": {
                "Args": {
                    "lr": p("0.02", "float"),
                    "epochs": p("9", "int"),
                    "fast": p("True", "bool"),
                }
            },
        }
    )
    script = write_script(tmp_path / "code", CLICK_SCRIPT)
    result = run_script(script, script_env(api_url, tmp_path, TUNELAB_TASK_ID=task["id"]))
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    assert json.loads(line.removeprefix("RESULT ")) == {"lr": 0.02, "epochs": 9, "fast": True}
    assert client.get_task(task["id"])["status"] == "completed"

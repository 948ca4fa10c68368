"""Hydra and OmegaConf: a real ``@hydra.main`` script against a real server records its
composed configuration (``OmegaConf``) and its command-line overrides (``Hydra``), and a
script attached to a stored task runs with the stored overrides or configuration."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.scripts import run_script, script_env, unique, write_script
from tests.sdk.capture import faulty_hooks
from tests.sdk.capture.hydra_app import APP, COMPOSED, hydra_app, param, printed_cfgs
from tunelab.sdk.capture import argparse_parameters
from tunelab.sdk.transport import ApiClient

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _only_task(client: ApiClient, project: str) -> dict[str, Any]:
    items = client.list_tasks(project=project)["items"]
    assert len(items) == 1, items
    return client.get_task(items[0]["id"])


def test_task_init_inside_hydra_main_records_config_and_overrides(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra")
    app = hydra_app(tmp_path / "code", project)

    done = run_script(app, script_env(api_url, tmp_path), "training.lr=0.5", "db=postgresql",
                      "+training.seed=7", "dataset.user='a b'")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "tunelab: could not capture" not in done.stderr
    expected = {
        "db": {"driver": "postgresql", "port": 5432},
        "dataset": {"data": "rawdata.csv", "user": "a b"},
        "training": {"lr": 0.5, "epochs": 2, "seed": 7},
    }
    assert printed_cfgs(done.stdout) == [expected]
    task = _only_task(client, project)
    assert task["status"] == "completed", task["status_reason"]
    omegaconf = task["configuration"]["OmegaConf"]
    assert yaml.safe_load(omegaconf["text"]) == expected
    assert omegaconf["type"] == "OmegaConf YAML"
    hydra = task["hyperparameters"]["Hydra"]
    assert {name: (body["value"], body["type"]) for name, body in hydra.items()} == {
        "training.lr": ("0.5", "float"),
        "db": ("postgresql", "str"),
        "training.seed": ("7", "int"),
        "dataset.user": ("'a b'", "str"),
        "_allow_omegaconf_edit_": ("False", "bool"),
    }
    # Hydra's own command line (overrides, --multirun, --cfg...) is not the script's Args.
    assert "Args" not in task["hyperparameters"]


def test_task_init_before_hydra_is_imported_records_the_same(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-before")
    body = """
from tunelab import Task
task = Task.init(project_name=PROJECT, task_name="before")
import hydra
from omegaconf import OmegaConf


@hydra.main(config_path="conf", config_name="config", version_base=None)
def my_app(cfg):
    print("CFG " + json.dumps(OmegaConf.to_container(cfg)))


my_app()
"""
    app = hydra_app(tmp_path / "code", project, "import json\n" + body)

    done = run_script(app, script_env(api_url, tmp_path), "training.epochs=5")

    assert done.returncode == 0, done.stderr
    task = _only_task(client, project)
    assert task["status"] == "completed"
    composed = {**COMPOSED, "training": {"lr": 0.1, "epochs": 5}}
    assert printed_cfgs(done.stdout) == [composed]
    assert yaml.safe_load(task["configuration"]["OmegaConf"]["text"]) == composed
    assert task["hyperparameters"]["Hydra"]["training.epochs"]["value"] == "5"


def test_a_failing_hydra_job_fails_the_task_with_its_error(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-fail")
    body = APP.replace("    print(OmegaConf.to_yaml(cfg))\n", '    raise ValueError("bad lr")\n')
    app = hydra_app(tmp_path / "code", project, body)

    done = run_script(app, script_env(api_url, tmp_path))

    assert done.returncode == 1
    assert "ValueError: bad lr" in done.stderr
    assert "tunelab" not in done.stderr.split("Traceback", 1)[1]  # the script's own frames only
    task = _only_task(client, project)
    assert (task["status"], task["status_reason"]) == ("failed", "ValueError: bad lr")


def test_multirun_records_one_task_per_job(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("hydra-multirun")
    app = hydra_app(tmp_path / "code", project)

    done = run_script(app, script_env(api_url, tmp_path), "-m", "training.lr=0.1,0.2",
                      "db=mysql,postgresql")  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert len(printed_cfgs(done.stdout)) == 4
    tasks = [client.get_task(t["id"]) for t in client.list_tasks(project=project)["items"]]
    assert {t["status"] for t in tasks} == {"completed"}
    recorded = sorted(
        (t["hyperparameters"]["Hydra"]["training.lr"]["value"],
         t["hyperparameters"]["Hydra"]["db"]["value"],
         yaml.safe_load(t["configuration"]["OmegaConf"]["text"])["db"]["port"])
        for t in tasks
    )  # fmt: skip
    assert recorded == [
        ("0.1", "mysql", 3306),
        ("0.1", "postgresql", 5432),
        ("0.2", "mysql", 3306),
        ("0.2", "postgresql", 5432),
    ]
    # Each job's console is its own task's.
    for t in tasks:
        console = [x["text"] for x in client.get_console(t["id"], limit=1000)["lines"]]
        cfgs = [json.loads(x[4:]) for x in console if x.startswith("CFG ")]
        lr = float(t["hyperparameters"]["Hydra"]["training.lr"]["value"])
        assert [c["training"]["lr"] for c in cfgs] == [lr]


def test_a_multirun_after_task_init_records_its_first_job_and_says_so(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-multirun-before")
    body = APP.replace("def my_app(cfg):\n    task = Task.init(", "def my_app(cfg):\n    task = (")
    body = body.replace("@hydra.main", "Task.init(project_name=PROJECT)\n\n\n@hydra.main", 1)
    body = body.replace("task = (project_name=PROJECT, task_name=\"Hydra configuration\")",
                        "task = Task.current_task()")  # fmt: skip
    app = hydra_app(tmp_path / "code", project, body)

    done = run_script(app, script_env(api_url, tmp_path), "-m", "training.lr=0.1,0.2")

    assert done.returncode == 0, done.stderr
    assert len(printed_cfgs(done.stdout)) == 2
    assert "records the first job only" in done.stderr
    task = _only_task(client, project)
    assert task["hyperparameters"]["Hydra"]["training.lr"]["value"] == "0.1"
    assert yaml.safe_load(task["configuration"]["OmegaConf"]["text"])["training"]["lr"] == 0.1


def _stored_hydra_task(client: ApiClient, project: str, **hydra: dict[str, str]) -> str:
    omegaconf_yaml = yaml.safe_dump({**COMPOSED, "training": {"lr": 0.9, "epochs": 40}})
    task = client.create_task(
        {
            "name": "edited",
            "project": project,
            "status": "draft",
            "hyperparameters": {"Hydra": hydra},
            "configuration": {
                "OmegaConf": {"type": "OmegaConf YAML", "text": omegaconf_yaml, "description": ""}
            },
        }
    )
    return str(task["id"])


def test_stored_hydra_overrides_reach_cfg_with_their_types(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-remote")
    task_id = _stored_hydra_task(
        client,
        project,
        **{
            "training.lr": param("0.25"),
            "training.epochs": param("7", "int"),
            "db": param("postgresql"),
            "training.seed": param("3", "int"),
            "_allow_omegaconf_edit_": param("False", "bool"),
        },
    )
    app = hydra_app(tmp_path / "code", project)
    env = script_env(api_url, tmp_path, TUNELAB_TASK_ID=task_id)

    done = run_script(app, env, "training.lr=0.001")  # the stored value still wins

    assert done.returncode == 0, done.stderr
    used = {
        "db": {"driver": "postgresql", "port": 5432},
        "dataset": {"data": "rawdata.csv", "user": "root"},
        "training": {"lr": 0.25, "epochs": 7, "seed": 3},
    }
    assert printed_cfgs(done.stdout) == [used]
    task = client.get_task(task_id)
    assert task["status"] == "completed"
    # The re-run's OmegaConf object is the configuration it ran with.
    assert yaml.safe_load(task["configuration"]["OmegaConf"]["text"]) == used


def test_an_edited_omegaconf_object_is_used_only_when_allowed(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-edit")
    app = hydra_app(tmp_path / "code", project)
    edited = {**COMPOSED, "training": {"lr": 0.9, "epochs": 40}}

    ignored = _stored_hydra_task(client, project, _allow_omegaconf_edit_=param("False", "bool"))
    done = run_script(app, script_env(api_url, tmp_path, TUNELAB_TASK_ID=ignored))
    assert done.returncode == 0, done.stderr
    assert printed_cfgs(done.stdout) == [COMPOSED]

    allowed = _stored_hydra_task(
        client,
        project,
        _allow_omegaconf_edit_=param("True", "bool"),
        **{"training.epochs": param("3", "int")},  # the whole edited object wins
    )
    done = run_script(app, script_env(api_url, tmp_path, TUNELAB_TASK_ID=allowed))
    assert done.returncode == 0, done.stderr
    assert printed_cfgs(done.stdout) == [edited]
    assert client.get_task(allowed)["status"] == "completed"


# ----- OmegaConf objects in connect / connect_configuration --------------------------------

CONNECT = """
import json
from omegaconf import OmegaConf, DictConfig, ListConfig
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="omegaconf")
model = OmegaConf.create({"depth": 18, "act": "relu", "widths": [64, 32], "lr": "${opt.lr}",
                          "opt": {"lr": 0.1}})
model = task.connect_configuration(model, name="model")
stages = task.connect_configuration(OmegaConf.create([1, 2]), name="stages")
params = OmegaConf.create({"batch": 32, "opt": {"name": "sgd", "momentum": 0.9}})
same = task.connect(params, name="train")
print("RESULT " + json.dumps({
    "model_type": type(model).__name__, "model": OmegaConf.to_container(model, resolve=True),
    "stages_type": type(stages).__name__, "stages": OmegaConf.to_container(stages),
    "same": same is params, "params_type": type(params).__name__,
    "params": OmegaConf.to_container(params),
    "momentum_type": type(params.opt.momentum).__name__,
}))
"""


def _result(stdout: str) -> Any:
    return json.loads(next(x for x in stdout.splitlines() if x.startswith("RESULT "))[7:])


def test_omegaconf_objects_are_stored_as_yaml_and_come_back_edited(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("omegaconf")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n{CONNECT}")

    local = run_script(script, script_env(api_url, tmp_path))

    assert local.returncode == 0, local.stderr
    task = _only_task(client, project)
    model = task["configuration"]["model"]
    assert model["type"] == "OmegaConf YAML"
    assert yaml.safe_load(model["text"]) == {
        "depth": 18, "act": "relu", "widths": [64, 32], "lr": "${opt.lr}", "opt": {"lr": 0.1},
    }  # fmt: skip
    assert yaml.safe_load(task["configuration"]["stages"]["text"]) == [1, 2]
    train = task["hyperparameters"]["train"]
    assert {name: (body["value"], body["type"]) for name, body in train.items()} == {
        "batch": ("32", "int"),
        "opt/name": ("sgd", "str"),
        "opt/momentum": ("0.9", "float"),
    }

    draft = client.clone_task(task["id"])
    client.set_configuration(
        draft["id"],
        {
            "model": {**model, "text": model["text"].replace("depth: 18", "depth: 50")},
            "stages": {"type": "OmegaConf YAML", "text": "- 3\n", "description": ""},
        },
    )
    client.set_hyperparameters(
        draft["id"], {"train": {"opt/momentum": param("0.5", "float"), "batch": param("8", "int")}}
    )
    env = script_env(api_url, tmp_path, TUNELAB_TASK_ID=draft["id"])
    rerun = run_script(script, env)

    assert rerun.returncode == 0, rerun.stderr
    assert _result(rerun.stdout) == {
        "model_type": "DictConfig",
        "model": {"depth": 50, "act": "relu", "widths": [64, 32], "lr": 0.1, "opt": {"lr": 0.1}},
        "stages_type": "ListConfig",
        "stages": [3],
        "same": True,
        "params_type": "DictConfig",
        "params": {"batch": 8, "opt": {"name": "sgd", "momentum": 0.5}},
        "momentum_type": "float",
    }
    assert client.get_task(draft["id"])["status"] == "completed"


# ----- a failing hook never changes the script's behaviour ---------------------------------

# Every function the patched Hydra calls into, as Tunelab's own code looks it up.
HYDRA_HOOKS = [
    ("tunelab.sdk.capture.hydra_config", name)
    for name in ("owns_parser", "task_started", "_remote_overrides", "_record_job",
                 "_job_config", "_end_job")
]  # fmt: skip


def _run_broken(app: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The app under tests/sdk/capture/faulty_hooks.py with every Hydra hook raising."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.sdk.capture import faulty_hooks as f\n"
        f"f.BROKEN[:] = {HYDRA_HOOKS!r}\n"
        "f.main(sys.argv[1:])\n"
    )
    command = [sys.executable, "-c", code, "--broken", str(app), *args]
    return subprocess.run(
        command, cwd=app.parent, env=env, capture_output=True, text=True, timeout=60
    )


def test_failing_hydra_hooks_leave_the_script_unchanged(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("hydra-faults")
    app = hydra_app(tmp_path / "code", project)
    env = script_env(api_url, tmp_path)

    plain = run_script(app, env, "training.lr=0.5", "db=postgresql")
    broken = _run_broken(app, env, "training.lr=0.5", "db=postgresql")

    assert plain.returncode == broken.returncode == 0, broken.stderr
    assert broken.stdout == plain.stdout.replace(_announce(plain.stdout), _announce(broken.stdout))
    assert faulty_hooks.FAULT in broken.stderr
    assert "tunelab: could not capture the Hydra configuration" in broken.stderr
    statuses = {t["status"] for t in client.list_tasks(project=project)["items"]}
    assert statuses == {"completed"}

    # Under an agent, a broken hook leaves the command line's configuration in place.
    stored = _stored_hydra_task(client, project, **{"training.lr": param("0.25")})
    broken = _run_broken(
        app, script_env(api_url, tmp_path, TUNELAB_TASK_ID=stored), "db=postgresql"
    )
    assert broken.returncode == 0, broken.stderr
    assert printed_cfgs(broken.stdout) == [
        {**COMPOSED, "db": {"driver": "postgresql", "port": 5432}}
    ]


def _announce(stdout: str) -> str:
    return next(x for x in stdout.splitlines() if x.startswith("Tunelab: task "))


def test_an_argparse_help_that_is_not_text_is_recorded_as_it_prints() -> None:
    class LazyHelp:  # what Hydra's --shell-completion help is
        def __repr__(self) -> str:
            return "Install or Uninstall shell completion"

    parser = argparse.ArgumentParser()
    parser.add_argument("--shell-completion", action="store_true", help=LazyHelp())

    params = argparse_parameters(parser, parser.parse_args([]))

    assert [(p.name, p.description) for p in params] == [
        ("shell_completion", "Install or Uninstall shell completion")
    ]
    json.dumps([p.description for p in params])

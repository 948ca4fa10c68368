"""A real Optuna study of the user's own, recorded by ``TunelabCallback`` against a real
server: each finished trial a child task with typed parameters, its objective and its state;
the study's summary on the parent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.sdk.transport import ApiClient

STUDY = """
import optuna
from tunelab import Task
from tunelab.integrations.optuna import TunelabCallback

optuna.logging.set_verbosity(optuna.logging.WARNING)
WITH_TASK = {with_task!r}
if WITH_TASK:
    Task.init(project_name={project!r}, task_name="my study")


def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    n = trial.suggest_int("n", 1, 4)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    for step in range(2):
        trial.report((x - 2) ** 2 + step, step)
    if trial.number == 3:
        raise optuna.TrialPruned()
    return (x - 2) ** 2 + n + (0 if kind == "a" else 1)


study = optuna.create_study(study_name="quad", sampler=optuna.samplers.RandomSampler(seed=3))
study.optimize(objective, n_trials=5, callbacks=[TunelabCallback(project_name={project!r})])
print("BEST", study.best_trial.number, study.best_value)
"""


def _study(api_url: str, tmp_path: Path, project: str, *, with_task: bool) -> str:
    script = write_script(tmp_path, STUDY.format(project=project, with_task=with_task))
    done = run_script(script, script_env(api_url, tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "could not capture" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


def _children(client: ApiClient, project: str, parent_id: str) -> list[dict]:
    tasks = [client.get_task(t["id"]) for t in client.list_tasks(project=project)["items"]]
    return [t for t in tasks if t["parent"] == parent_id]


def test_each_trial_is_a_child_task_with_typed_params_and_the_summary_is_on_the_parent(
    api_url: str, tmp_path: Path
) -> None:
    project = unique("optuna")
    printed = _study(api_url, tmp_path, project, with_task=False)
    best_number = int(printed.split("BEST ")[1].split()[0])
    with ApiClient(api_url) as client:
        [parent] = client.list_tasks(project=project, type=["optimizer"])["items"]
        parent = client.get_task(parent["id"])
        assert parent["name"] == "Optuna: quad" and parent["status"] == "completed"
        children = _children(client, project, parent["id"])
        assert len(children) == 5
        by_number = {}
        for task in children:
            props = task["user_properties"]
            by_number[int(props["optuna_trial"]["value"])] = task
            assert props["optimizer_task_id"]["value"] == parent["id"]
            assert f"optimizer:{parent['id']}" in task["tags"]
            section = task["hyperparameters"]["Optuna"]
            assert {k: section[k]["type"] for k in section} == {
                "x": "float",
                "n": "int",
                "kind": "str",
            }
        assert sorted(by_number) == [0, 1, 2, 3, 4]
        pruned = by_number[3]
        assert pruned["status"] == "stopped"
        assert pruned["user_properties"]["optuna_state"]["value"] == "PRUNED"
        assert "objective" not in client.get_metrics(pruned["id"])["metrics"]
        for number in (0, 1, 2, 4):
            task = by_number[number]
            assert task["status"] == "completed"
            assert task["user_properties"]["optuna_state"]["value"] == "COMPLETE"
            metrics = client.get_metrics(task["id"])["metrics"]
            section = task["hyperparameters"]["Optuna"]
            x, n = float(section["x"]["value"]), int(section["n"]["value"])
            expected = (x - 2) ** 2 + n + (0 if section["kind"]["value"] == "a" else 1)
            assert abs(metrics["objective"]["value"]["last"] - expected) < 1e-6
            assert metrics["intermediate"]["value"]["count"] == 2

        summary = json.loads(parent["configuration"]["Optuna"]["text"])
        assert summary["n_trials"] == 5 and summary["states"] == {"COMPLETE": 4, "PRUNED": 1}
        assert summary["directions"] == ["minimize"]
        assert summary["best_trial"]["number"] == best_number
        assert summary["best_trial"]["task_id"] == by_number[best_number]["id"]
        table = client.get_plots(parent["id"], title="trials", last_only=True)["plots"][-1]
        rows = table["data"]["rows"] if "data" in table else table["rows"]
        assert rows[0][-1] == by_number[best_number]["id"]  # best first
        curve = client.get_scalars(parent["id"], max_points=0)["metrics"]["objective"]
        assert len(curve["objective"]["y"]) == 4
        spec = json.loads(parent["configuration"]["optimizer"]["text"])
        assert [r["type"] for r in spec["hyper_parameters"]] == [
            "DiscreteParameterRange", "UniformIntegerParameterRange", "UniformParameterRange"
        ]  # fmt: skip

    # The parent's Optimization tab lists the trials, best first.
    tab = httpx.get(f"{api_url}/experiments/{parent['id']}/optimization")
    assert tab.status_code == 200
    rows = re.findall(r'data-trial="([0-9a-f]{32})"', tab.text)
    assert len(rows) == 5 and rows[0] == by_number[best_number]["id"]


def test_the_current_task_is_the_parent(api_url: str, tmp_path: Path) -> None:
    project = unique("optuna-own")
    _study(api_url, tmp_path, project, with_task=True)
    with ApiClient(api_url) as client:
        listed = client.list_tasks(project=project)["items"]
        [own] = [t for t in listed if t["name"] == "my study"]
        assert len(_children(client, project, own["id"])) == 5
        assert "Optuna" in client.get_task(own["id"])["configuration"]
        assert not client.list_tasks(project=project, type=["optimizer"])["items"]

"""Hyperparameter searches run for real: trials are clones of a base task run by two agent
daemons on one queue; the values reach the script with their types; Optuna's pruner stops
a losing trial through the normal stop request; a restarted optimizer runs nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import script_env, unique
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.automation import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    ParameterSet,
    RandomSearch,
    UniformIntegerParameterRange,
)
from tunelab.automation.trials import optimizer_tag
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.slow

# "sgd" is the clearly bad choice: a loss 100 times higher (over the pruner's 50 from its first
# report), and slow enough to be pruned: 40 s unless stopped, so a stop that reaches its agent
# late on a busy machine still finds it running (at 10 s one could end first).
TRAIN = """
import json, math, time
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="hpo")
params = task.connect({"lr": 0.01, "batch": 32, "opt": "adam"}, name="Args")
print("TYPES " + json.dumps({k: type(v).__name__ for k, v in params.items()}), flush=True)
print("VALUES " + json.dumps(params), flush=True)
logger = task.get_logger()
bad = params["opt"] == "sgd"
for i in range(40 if bad else 3):
    loss = (100.0 if bad else 1.0) * (1 + abs(math.log10(params["lr"]) + 2) + params["batch"] / 64)
    logger.report_scalar("loss", "val", loss / (i + 1), iteration=i)
    if bad:
        time.sleep(1.0)
"""

RANGES = [
    LogUniformParameterRange("Args/lr", -4, -1),
    UniformIntegerParameterRange("Args/batch", 8, 64, step_size=8),
    DiscreteParameterRange("Args/opt", ["adam"]),
]


@pytest.fixture(scope="module")
def queue(server: ServerProcess, home: Path) -> Iterator[str]:
    """Two agent daemons serving one queue, uv's package cache the machine's."""
    name = unique("hpo")
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    env = {"UV_CACHE_DIR": uv_cache}
    (home / "a1").mkdir()
    (home / "a2").mkdir()
    with (
        agent_daemon(server.url, home / "a1", name, env=env),
        agent_daemon(server.url, home / "a2", name, env=env),
    ):
        yield name


@pytest.fixture(scope="module")
def base_task(client: ApiClient, home: Path) -> dict:
    """A draft whose code is TRAIN in a git repository, its parameters typed."""
    project = unique("hpo")
    repo = new_repo(home / "repo", {"train.py": f"PROJECT = {project!r}\n{TRAIN}"})
    execution = {"repository": str(repo), "branch": "main", "entry_point": "train.py",
                 "working_dir": "."}  # fmt: skip
    task = client.create_task(
        {"name": "hpo", "project": project, "status": "draft", "execution": execution}
    )
    client.set_hyperparameters(task["id"], {"Args": {
        "lr": {"value": "0.01", "type": "float", "description": ""},
        "batch": {"value": "32", "type": "int", "description": ""},
        "opt": {"value": "adam", "type": "str", "description": ""},
    }})  # fmt: skip
    return task


def _console(client: ApiClient, task_id: str) -> str:
    return "\n".join(x["text"] for x in client.get_console(task_id, limit=10000)["lines"])


def _printed(console: str, prefix: str) -> dict:
    return json.loads(next(x for x in console.splitlines() if x.startswith(prefix))[len(prefix) :])


def test_a_random_search_runs_typed_trials_on_agents_and_ranks_them(
    api_url: str, client: ApiClient, queue: str, base_task: dict
) -> None:
    ended: list[str] = []
    optimizer = HyperParameterOptimizer(
        base_task_id=base_task["id"], hyper_parameters=RANGES,
        objective_metric_title="loss", objective_metric_series="val",
        objective_metric_sign="min", optimizer_class=RandomSearch, seed=7,
        max_number_of_concurrent_tasks=3, execution_queue=queue, total_max_jobs=12,
        pool_period_min=0.3 / 60, auto_connect_task=False,
    )  # fmt: skip
    optimizer.start(job_complete_callback=lambda task_id, *_: ended.append(task_id))
    in_flight = [optimizer.get_num_active_experiments()]
    while not optimizer.wait(timeout=0.2):
        in_flight.append(optimizer.get_num_active_experiments())
    assert max(in_flight) <= 3

    trials = optimizer.trials
    assert len(trials) == 12 and sorted(ended) == sorted(t.task_id for t in trials)
    for trial in trials:
        task = client.get_task(trial.task_id)
        console = _console(client, trial.task_id)
        assert task["status"] == "completed", console
        assert task["parent"] == base_task["id"]
        assert optimizer_tag(optimizer.task_id) in task["tags"]
        assert task["name"].startswith("hpo: Args/lr=")
        assert task["hyperparameters"]["Args"]["batch"]["type"] == "int"
        assert _printed(console, "TYPES ") == {"lr": "float", "batch": "int", "opt": "str"}
        printed = {f"Args/{k}": v for k, v in _printed(console, "VALUES ").items()}
        assert printed == trial.parameters  # the sampled values themselves, not rounded
        assert isinstance(trial.parameters["Args/batch"], int)

    # The top-k is the scalars' order, read from the server, not the optimizer's memory.
    last = {
        t.task_id: client.get_metrics(t.task_id)["metrics"]["loss"]["val"]["last"] for t in trials
    }
    top = optimizer.get_top_experiments_id_metrics_pair(3)
    assert [task_id for task_id, _ in top] == sorted(last, key=last.__getitem__)[:3]
    assert [result["value"] for _, result in top] == sorted(last.values())[:3]
    assert [t.id for t in optimizer.get_top_experiments(2)] == [top[0][0], top[1][0]]

    # The optimizer's own task: its spec, the trials table best first, the objective curve.
    own = client.get_task(optimizer.task_id)
    assert own["type"] == "optimizer" and own["status"] == "completed"
    spec = json.loads(own["configuration"]["optimizer"]["text"])
    assert spec["hyper_parameters"][1] == {
        "type": "UniformIntegerParameterRange", "name": "Args/batch", "min_value": 8,
        "max_value": 64, "step_size": 8, "include_max_value": True,
    }  # fmt: skip
    table = client.get_plots(optimizer.task_id, title="trials")["plots"][0]
    rows = table["data"]["rows"] if "data" in table else table["rows"]
    assert [row[-1] for row in rows[:3]] == [task_id for task_id, _ in top]
    curve = client.get_scalars(optimizer.task_id, max_points=0)["metrics"]["objective"]
    assert len(curve["objective"]["y"]) == 12
    assert min(curve["best so far"]["y"]) == top[0][1]["value"]


def test_optuna_prunes_a_losing_trial_through_the_stop_request(
    api_url: str, client: ApiClient, queue: str, base_task: dict
) -> None:
    import optuna

    from tunelab.automation.optuna import OptimizerOptuna

    optimizer = HyperParameterOptimizer(
        base_task_id=base_task["id"],
        hyper_parameters=[*RANGES[:2], DiscreteParameterRange("Args/opt", ["adam", "sgd"])],
        objective_metric_title="loss", objective_metric_series="val",
        optimizer_class=OptimizerOptuna,
        optuna_sampler=optuna.samplers.TPESampler(seed=9),
        optuna_pruner=optuna.pruners.ThresholdPruner(upper=50.0),
        max_number_of_concurrent_tasks=3, execution_queue=queue, total_max_jobs=12,
        pool_period_min=0.3 / 60, auto_connect_task=False,
    )  # fmt: skip
    optimizer.start()
    assert optimizer.wait(timeout=240)

    trials = optimizer.trials
    assert len(trials) == 12
    losing = [t for t in trials if t.parameters["Args/opt"] == "sgd"]
    assert losing, [t.parameters for t in trials]
    for trial in losing:
        task = client.get_task(trial.task_id)
        assert trial.pruned and task["status"] == "stopped"
        # Stopped early: far fewer than the 40 iterations it would have run.
        assert client.get_metrics(trial.task_id)["metrics"]["loss"]["val"]["count"] < 40
    for trial in trials:
        if trial not in losing:
            assert client.get_task(trial.task_id)["status"] == "completed"
    states = [t.state.name for t in optimizer.get_optimizer().study.trials]  # type: ignore[attr-defined]
    assert states.count("PRUNED") == len(losing)
    assert all(r["parameters"]["Args/opt"] == "adam"
               for _, r in optimizer.get_top_experiments_id_metrics_pair(4))  # fmt: skip


def test_start_locally_runs_trials_here_and_stops_one_past_max_iteration_per_job(
    api_url: str,
    client: ApiClient,
    base_task: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    monkeypatch.setenv("UV_CACHE_DIR", uv_cache)
    monkeypatch.setenv("HOME", str(tmp_path))  # the local agent's work dir is under it
    slow = {"Args/lr": 0.01, "Args/batch": 32, "Args/opt": "sgd"}  # 40 iterations, 40 s
    optimizer = HyperParameterOptimizer(
        base_task_id=base_task["id"], hyper_parameters=[ParameterSet([slow])],
        objective_metric_title="loss", objective_metric_series="val",
        execution_queue=unique("nobody-serves"), total_max_jobs=1, max_iteration_per_job=3,
        pool_period_min=0.3 / 60, auto_connect_task=False,
    )  # fmt: skip
    optimizer.start_locally()
    assert optimizer.wait(timeout=90)
    (trial,) = optimizer.trials
    console = _console(client, trial.task_id)
    assert _printed(console, "TYPES ") == {"lr": "float", "batch": "int", "opt": "str"}
    # Stopped through the normal stop request, and still a result (not a pruned trial).
    assert trial.stop_reason == "max iterations" and not trial.pruned
    assert client.get_task(trial.task_id)["status"] == "stopped", console
    assert client.get_metrics(trial.task_id)["metrics"]["loss"]["val"]["count"] < 40
    top = optimizer.get_top_experiments_id_metrics_pair(1)
    assert [task_id for task_id, _ in top] == [trial.task_id]


def test_a_restarted_optimizer_does_not_rerun_finished_trials(
    api_url: str, client: ApiClient, queue: str, base_task: dict, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "tunelab.cli.main", "optimize", "--base-task", base_task["id"],
        "--param", "Args/lr=loguniform:1e-4:1e-1", "--param", "Args/batch=int:8:64:8",
        "--param", "Args/opt=choice:adam", "--objective", "loss/val", "--sign", "min",
        "--strategy", "grid", "--queue", queue, "--concurrency", "2", "--total", "4",
        "--poll", "0.3",
    ]  # fmt: skip
    env = script_env(api_url, tmp_path)
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    optimizer_id = first.stdout.readline().split()[-1]
    tag = optimizer_tag(optimizer_id)

    def completed() -> list[dict]:
        items = client.list_tasks(tag=[tag], status=["completed"])["items"]
        return items if len(items) >= 2 else []

    done_before = wait_for(completed, timeout=90, what="two trials to complete", interval=0.3)
    first.send_signal(signal.SIGKILL)  # a crash: no clean-up of any kind
    first.wait()
    first.stdout.close()
    before = {t["id"]: client.get_task(t["id"]) for t in done_before}

    second = subprocess.run(
        [*command, "--resume", optimizer_id], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "top 3:" in second.stdout

    trials = client.list_tasks(tag=[tag], page_size=50)["items"]
    assert len(trials) == 4, second.stdout
    for task_id, task in before.items():  # ended before the crash: never run again
        again = client.get_task(task_id)
        assert again["status"] == "completed" and again["started"] == task["started"]
    values = [
        json.dumps(client.get_task(t["id"])["hyperparameters"]["Args"], sort_keys=True)
        for t in trials
    ]
    assert len(set(values)) == 4  # the grid goes on where it was, no set run twice
    assert all(client.get_task(t["id"])["status"] == "completed" for t in trials)


def test_the_running_script_becomes_the_optimizer_task(
    api_url: str, client: ApiClient, base_task: dict, tmp_path: Path
) -> None:
    script = tmp_path / "optimize.py"
    script.write_text(f"""
from tunelab import Task
from tunelab.automation import DiscreteParameterRange, HyperParameterOptimizer

task = Task.init(project_name="hpo-controller", task_name="search")
optimizer = HyperParameterOptimizer(
    {base_task["id"]!r}, [DiscreteParameterRange("Args/opt", ["adam"])], "loss", "val",
    total_max_jobs=0, pool_period_min=0.001,
)
optimizer.start()
assert optimizer.wait(30)
print("OPTIMIZER", optimizer.task_id == task.id, task.id)
""")
    done = subprocess.run(
        [sys.executable, str(script)], env=script_env(api_url, tmp_path), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("OPTIMIZER "))
    same, task_id = line.split()[1:]
    assert same == "True"
    task = client.get_task(task_id)
    assert task["type"] == "optimizer" and task["status"] == "completed"
    assert json.loads(task["configuration"]["optimizer"]["text"])["total_max_jobs"] == 0


def test_time_limits_stop_trials_and_the_search_and_only_the_top_k_stay_unarchived(
    api_url: str, client: ApiClient, queue: str, base_task: dict
) -> None:
    # 'sgd' trials would run 40 s: the per-job limit (3 s) stops them through the stop path.
    slow = HyperParameterOptimizer(
        base_task_id=base_task["id"],
        hyper_parameters=[*RANGES[:2], DiscreteParameterRange("Args/opt", ["sgd"])],
        objective_metric_title="loss", objective_metric_series="val",
        optimizer_class=RandomSearch, seed=3, time_limit_per_job=0.05,
        max_number_of_concurrent_tasks=2, execution_queue=queue, total_max_jobs=2,
        pool_period_min=0.3 / 60, auto_connect_task=False,
    )  # fmt: skip
    slow.start()
    assert slow.wait(timeout=60)
    assert len(slow.trials) == 2
    for trial in slow.trials:
        assert client.get_task(trial.task_id)["status"] == "stopped"
        assert client.get_metrics(trial.task_id)["metrics"]["loss"]["val"]["count"] < 40

    # A search with room for 50 trials ends at its own time limit (6 s), and keeps only its
    # best trial unarchived.
    bounded = HyperParameterOptimizer(
        base_task_id=base_task["id"], hyper_parameters=RANGES,
        objective_metric_title="loss", objective_metric_series="val",
        optimizer_class=RandomSearch, seed=5, optimization_time_limit=0.1,
        save_top_k_tasks_only=1, max_number_of_concurrent_tasks=2, execution_queue=queue,
        total_max_jobs=50, pool_period_min=0.3 / 60, auto_connect_task=False,
    )  # fmt: skip
    bounded.start()
    assert bounded.wait(timeout=60)
    assert bounded.reached_time_limit() and 1 < len(bounded.trials) < 50
    ended = [t for t in bounded.trials if client.get_task(t.task_id)["status"] == "completed"]
    (best_id, _), *_ = bounded.get_top_experiments_id_metrics_pair(1)
    archived = {t.task_id for t in ended if client.get_task(t.task_id)["archived"]}
    assert archived == {t.task_id for t in ended} - {best_id}

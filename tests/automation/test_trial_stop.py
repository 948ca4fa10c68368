"""Stopping a trial that ended meanwhile: the optimizer stops its active trials when the
search ends, and one of them may complete between its last look and the stop request: its
outcome stands, and the optimizer ranks it."""

from __future__ import annotations

import pytest

from tunelab.automation import DiscreteParameterRange, GridSearch, HyperParameterOptimizer
from tunelab.automation.objective import Objective
from tunelab.automation.trials import Trial, TrialLauncher
from tunelab.sdk.transport import ApiClient


def test_a_trial_that_completed_before_its_stop_arrived_is_left_completed(
    client: ApiClient,
) -> None:
    task = client.create_task({"name": "trial", "project": "optimizer-stop-race"})
    client.start_task(task["id"], worker="optimizer-stop-race")
    client.update_task(task["id"], status="completed")
    launcher = TrialLauncher(
        client, task, "optimizer-id", Objective("loss", "val", "min"), queue="default"
    )
    seen_running = Trial(task["id"], {}, 0, status="running")

    launcher.stop(seen_running, "optimization ended")

    assert client.get_task(task["id"])["status"] == "completed"
    assert seen_running.stop_reason == "optimization ended"


def test_trials_that_complete_as_the_search_ends_are_ranked_and_archived(
    api_url: str, client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both trials complete between the optimizer's last look and its stop requests (the
    search's time limit strikes in between): the final look still ranks them, and
    ``save_top_k_tasks_only=1`` archives the worse one."""
    base = client.create_task({"name": "hpo", "project": "optimizer-end-race", "status": "draft"})
    client.set_hyperparameters(
        base["id"], {"Args": {"lr": {"value": "0.1", "type": "float", "description": ""}}}
    )
    optimizer = HyperParameterOptimizer(
        base_task_id=base["id"],
        hyper_parameters=[DiscreteParameterRange("Args/lr", [0.1, 0.2])],
        objective_metric_title="loss", objective_metric_series="val",
        optimizer_class=GridSearch, save_top_k_tasks_only=1, max_number_of_concurrent_tasks=2,
        execution_queue="optimizer-end-race", total_max_jobs=2, pool_period_min=0.01 / 60,
        auto_connect_task=False,
    )  # fmt: skip
    looks = 0

    def time_is_up() -> bool:
        """False until both trials are out; then they complete, with losses 1 and 2, just
        before the search's time runs out."""
        nonlocal looks
        looks += 1
        trials = optimizer.trials
        if len(trials) < 2:
            return False
        for loss, trial in enumerate(trials, start=1):
            client.start_task(trial.task_id, worker="optimizer-end-race")
            series = {"metric": "loss", "variant": "val", "iterations": [0], "values": [loss],
                      "timestamps": [1.7e9]}  # fmt: skip
            client.post_scalars(trial.task_id, {"batch_id": trial.task_id, "series": [series]})
            client.update_task(trial.task_id, status="completed")
        return True

    monkeypatch.setattr(optimizer, "reached_time_limit", time_is_up)
    optimizer.start()
    assert optimizer.wait(timeout=60)
    best, worse = optimizer.trials
    assert [t.status for t in optimizer.trials] == ["completed", "completed"]
    assert optimizer.get_top_experiments_id_metrics_pair(1)[0][0] == best.task_id
    assert client.get_task(worse.task_id)["archived"] is True
    assert client.get_task(best.task_id)["archived"] is False

"""Stopping a trial that ended meanwhile: the optimizer stops its active trials when the
search ends, and one of them may complete between its last look and the stop request: its
outcome stands, and the optimizer ranks it."""

from __future__ import annotations

import threading

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


@pytest.mark.parametrize("when", ["before its stop request", "after its stop request"])
def test_trials_that_complete_as_the_search_ends_are_ranked_and_archived(
    api_url: str, client: ApiClient, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """Both trials are running when the search's time limit strikes, and complete (losses 1
    and 2) just before the optimizer's stop requests or just after, before they see them:
    their outcome stands, the optimizer ranks them, and ``save_top_k_tasks_only=1`` archives
    the worse one."""
    project = f"optimizer-end-race-{when.split()[0]}"
    base = client.create_task({"name": "hpo", "project": project, "status": "draft"})
    client.set_hyperparameters(
        base["id"], {"Args": {"lr": {"value": "0.1", "type": "float", "description": ""}}}
    )
    optimizer = HyperParameterOptimizer(
        base_task_id=base["id"],
        hyper_parameters=[DiscreteParameterRange("Args/lr", [0.1, 0.2])],
        objective_metric_title="loss", objective_metric_series="val",
        optimizer_class=GridSearch, save_top_k_tasks_only=1, max_number_of_concurrent_tasks=2,
        execution_queue=project, total_max_jobs=2, pool_period_min=0.01 / 60,
        auto_connect_task=False,
    )  # fmt: skip

    def complete() -> None:
        for loss, trial in enumerate(optimizer.trials, start=1):
            series = {"metric": "loss", "variant": "val", "iterations": [0], "values": [loss],
                      "timestamps": [1.7e9]}  # fmt: skip
            client.post_scalars(trial.task_id, {"batch_id": trial.task_id, "series": [series]})
            client.update_task(trial.task_id, status="completed")

    def time_is_up() -> bool:
        """False until both trials are out; then they run, and the time is up."""
        if len(optimizer.trials) < 2:
            return False
        for trial in optimizer.trials:
            client.start_task(trial.task_id, worker=project)
        if when == "before its stop request":
            complete()
        else:
            threading.Timer(0.5, complete).start()
        return True

    monkeypatch.setattr(optimizer, "reached_time_limit", time_is_up)
    optimizer.start()
    assert optimizer.wait(timeout=60)
    best, worse = optimizer.trials
    assert [t.status for t in optimizer.trials] == ["completed", "completed"]
    assert optimizer.get_top_experiments_id_metrics_pair(1)[0][0] == best.task_id
    assert client.get_task(worse.task_id)["archived"] is True
    assert client.get_task(best.task_id)["archived"] is False

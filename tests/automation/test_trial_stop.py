"""Stopping a trial that ended meanwhile: the optimizer stops its active trials when the
search ends, and one of them may complete between its last look and the stop request."""

from __future__ import annotations

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

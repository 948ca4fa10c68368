"""What an optimizer records on its own task (of type ``optimizer``): its spec as a typed
configuration object, the trials table (best first) and the objective by trial."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tunelab.automation.objective import Objective
from tunelab.automation.trials import Trial
from tunelab.sdk import plot_data
from tunelab.sdk.transport import ApiClient

CONFIGURATION_NAME = "optimizer"
TABLE_TITLE = "trials"
OBJECTIVE_TITLE = "objective"
BEST_SERIES = "best so far"


class OptimizerReport:
    def __init__(
        self,
        client: ApiClient,
        task_id: str,
        objective: Objective,
        names: Sequence[str],
    ) -> None:
        self.client = client
        self.task_id = task_id
        self.objective = objective
        self.names = list(names)
        self._reported: set[str] = set()

    def configuration(self, spec: Mapping[str, Any]) -> None:
        """The spec as JSON, so each number stays a number and each name a string."""
        body = {
            "type": "dictionary",
            "text": json.dumps(spec, indent=2, default=str),
            "description": "hyperparameter optimization",
        }
        # Written as the run writes its own inputs (the optimizer's task is running).
        self.client.as_run_client().set_configuration(self.task_id, {CONFIGURATION_NAME: body})

    def trials(self, trials: Sequence[Trial]) -> None:
        """The table of every trial, best first, and a point per newly ended trial."""
        ranked = sorted(trials, key=lambda t: (self.objective.sort_key(t.objective), t.number))
        header = ["trial", *self.names, f"{self.objective.title}/{self.objective.series}",
                  "status", "task id"]  # fmt: skip
        rows = [header, *[t.row(self.names) for t in ranked]]
        plot = plot_data.table(TABLE_TITLE, TABLE_TITLE, 0, rows)
        self.client.post_plots(self.task_id, [plot])
        self._objective_points(trials)

    def _objective_points(self, trials: Sequence[Trial]) -> None:
        best: float | None = None
        for trial in sorted(trials, key=lambda t: t.number):
            if not trial.ended or trial.objective is None or trial.pruned:
                continue
            if best is None or self.objective.better(trial.objective, best):
                best = trial.objective
            if trial.task_id in self._reported:
                continue
            self._reported.add(trial.task_id)
            now = time.time()
            series = [
                {"metric": OBJECTIVE_TITLE, "variant": variant, "iterations": [trial.number],
                 "values": [value], "timestamps": [now]}
                for variant, value in ((OBJECTIVE_TITLE, trial.objective), (BEST_SERIES, best))
            ]  # fmt: skip
            # The trial's task id as the batch id: a restarted optimizer's repeat is stored once.
            batch = {"batch_id": f"objective-{trial.task_id}", "series": series}
            self.client.post_scalars(self.task_id, batch)

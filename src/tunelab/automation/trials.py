"""Trials: clones of the base task with sampled hyperparameters, run by agents.

A trial is an ordinary task: cloned from the base task (its parent), its hyperparameters set
with the sampled values *typed* (an ``int`` is stored as ``int``, so the script receives an
int), tagged with the optimizer task's id, and enqueued. The optimizer reads its status and
its objective series back from the server, and stops it through the normal stop request.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunelab.automation.objective import Objective
from tunelab.errors import Conflict
from tunelab.sdk import parameters as P
from tunelab.sdk.task_record import cast_value
from tunelab.sdk.transport import ApiClient

ENDED = frozenset({"completed", "failed", "stopped", "published"})
PROPERTY_OPTIMIZER = "optimizer_task_id"


def optimizer_tag(optimizer_id: str) -> str:
    """The tag every trial of an optimizer carries (how a restarted optimizer finds them)."""
    return f"optimizer:{optimizer_id}"


@dataclass
class Trial:
    task_id: str
    parameters: dict[str, Any]
    number: int
    status: str = "draft"
    objective: float | None = None
    iteration: int | None = None
    last_iteration: int | None = None
    started: float | None = None  # monotonic time it was first seen running
    stop_reason: str = ""  # why the optimizer stopped it: "pruned", "time limit", ...
    handle: Any = field(default=None, repr=False)  # a search strategy's own record

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def pruned(self) -> bool:
        return self.stop_reason == "pruned"

    def row(self, names: Sequence[str]) -> list[Any]:
        return [
            self.number,
            *[self.parameters.get(n) for n in names],
            self.objective,
            "pruned" if self.pruned and self.status == "stopped" else self.status,
            self.task_id,
        ]


def trial_name(base_name: str, parameters: Mapping[str, Any]) -> str:
    """ClearML's naming: ``"train: Args/lr=0.01 Args/batch=16"``."""
    values = " ".join(f"{key}={P.value_text(value)}" for key, value in parameters.items())
    return f"{base_name}: {values}"[:255]


class TrialLauncher:
    """Creates, enqueues (or runs locally), watches and stops the trials of one optimizer."""

    def __init__(
        self,
        client: ApiClient,
        base_task: Mapping[str, Any],
        optimizer_id: str,
        objective: Objective,
        *,
        queue: str,
        project: str | None = None,
        local: bool = False,
    ) -> None:
        self.client = client
        self.base_task = base_task
        self.optimizer_id = optimizer_id
        self.objective = objective
        self.queue = queue
        self.project = project
        self.local = local
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    def create(self, parameters: Mapping[str, Any], number: int) -> Trial:
        base_id = str(self.base_task["id"])
        task = self.client.clone_task(
            base_id,
            name=trial_name(str(self.base_task["name"]), parameters),
            project=self.project,
            set_as_parent=True,
        )
        task_id = str(task["id"])
        self.client.set_hyperparameters(task_id, P.group_by_section(dict(parameters)))
        tags = [*task.get("tags", []), optimizer_tag(self.optimizer_id)]
        self.client.update_task(task_id, tags=tags)
        self.client.set_user_properties(
            task_id, {PROPERTY_OPTIMIZER: P.param_body(self.optimizer_id)}
        )
        trial = Trial(task_id, dict(parameters), number)
        self.launch(trial)
        return trial

    def launch(self, trial: Trial) -> None:
        """Send a draft trial to run: enqueue it, or (``local``) run it in a subprocess here."""
        if self.local:
            command = [sys.executable, "-m", "tunelab.cli.main", "agent", "execute",
                       "--id", trial.task_id]  # fmt: skip
            self._processes[trial.task_id] = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            trial.status = "queued"
        else:
            trial.status = str(self.client.enqueue_task(trial.task_id, queue=self.queue)["status"])

    def refresh(self, trial: Trial) -> None:
        """Read the trial's status and objective back."""
        task = self.client.get_task(trial.task_id)
        metrics = self.client.get_metrics(trial.task_id)["metrics"]
        # The objective first: another thread that sees the new status sees its value too.
        trial.objective, trial.iteration = self.objective.value(metrics)
        trial.last_iteration = self.objective.last_iteration(metrics)
        if task["status"] == "running" and trial.started is None:
            trial.started = time.monotonic()
        trial.status = str(task["status"])

    def series(self, trial: Trial) -> list[tuple[int, float]]:
        """The objective series reported so far, as ``(iteration, value)``."""
        data = self.client.get_scalars(
            trial.task_id,
            max_points=0,
            metrics=[self.objective.title],
            variants=[self.objective.series],
        )
        points = (data["metrics"].get(self.objective.title) or {}).get(self.objective.series)
        if not points:
            return []
        pairs = zip(points["x"], points["y"], strict=False)
        return [(int(x), float(y)) for x, y in pairs if y is not None]

    def stop(self, trial: Trial, reason: str) -> None:
        """Ask the trial to stop (a queued one stops at once, a running one ends ``stopped``)."""
        if trial.ended or trial.stop_reason:
            return
        trial.stop_reason = reason
        try:
            self.client.stop_task(trial.task_id, reason=f"optimizer: {reason}")
        except Conflict:
            # It ended between the optimizer's last look and this request: nothing to stop,
            # and its outcome (and objective) stands. The next look reads its status.
            return

    def earlier_trials(self, names: Sequence[str]) -> list[Trial]:
        """The trials this optimizer created before (a restarted optimizer adopts them),
        oldest first, with their values cast back to the types they were stored with."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            query: dict[str, Any] = {
                "tag": [optimizer_tag(self.optimizer_id)], "archived": "all",
                "order_by": "created", "page_size": 500,
            }  # fmt: skip
            if after:
                query["after"] = after
            page = self.client.list_tasks(**query)
            found.extend(page["items"])
            after = page.get("next")
            if not after or not page["items"]:
                break
        trials = []
        for number, item in enumerate(found, start=1):
            task = self.client.get_task(str(item["id"]))
            params = task.get("hyperparameters") or {}
            values: dict[str, Any] = {}
            for name in names:
                section, key = P.split_key(name)
                body = (params.get(section) or {}).get(key)
                if body is not None:
                    values[name] = cast_value(body)
            trial = Trial(str(task["id"]), values, number, status=str(task["status"]))
            trials.append(trial)
        return trials

    def close(self) -> None:
        """Wait for the local trials' processes (each ends with its task)."""
        for proc in self._processes.values():
            proc.wait()
        self._processes.clear()

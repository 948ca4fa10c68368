"""``HyperParameterOptimizer``: clone the base task per trial, enqueue, read the objective
back, keep the best (ClearML's ``clearml.automation.HyperParameterOptimizer``).

Example::

    from tunelab.automation import (
        DiscreteParameterRange, HyperParameterOptimizer, LogUniformParameterRange,
        RandomSearch, UniformIntegerParameterRange,
    )

    optimizer = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[
            LogUniformParameterRange("Args/lr", -4, -1),
            UniformIntegerParameterRange("Args/batch", 8, 64, step_size=8),
            DiscreteParameterRange("Args/opt", ["adam", "sgd"]),
        ],
        objective_metric_title="loss", objective_metric_series="val",
        objective_metric_sign="min", optimizer_class=RandomSearch,
        max_number_of_concurrent_tasks=3, total_max_jobs=12, execution_queue="gpu",
    )
    optimizer.start()
    optimizer.wait()
    for task in optimizer.get_top_experiments(3):
        print(task.id, task.get_parameters(cast=True))

Each trial is a draft cloned from the base task (its parent), named
``"<base name>: Args/lr=0.01 ..."``, its hyperparameters set with the sampled values as
their own types, tagged ``optimizer:<optimizer task id>`` and enqueued. The optimizer is a
task of type ``optimizer``: the current task (``Task.init``) when ``auto_connect_task``,
else a new one; its id given again as ``optimizer_task_id`` resumes it without re-running
the trials it already ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tunelab.automation.objective import Objective
from tunelab.automation.parameters import Parameter, names_of
from tunelab.automation.report import OptimizerReport
from tunelab.automation.search import RandomSearch, SearchStrategy
from tunelab.automation.trials import Trial, TrialLauncher
from tunelab.errors import InvalidInput
from tunelab.sdk.config import load_config
from tunelab.sdk.task import Task
from tunelab.sdk.task_lifecycle import shared_client
from tunelab.sdk.transport import ApiClient

# How long a search that ends waits for the trials it stopped to end, so that their outcome
# is ranked: a running trial sees its stop request within seconds.
SETTLE_SECONDS = 30.0

JobCallback = Callable[[str, float | None, int | None, dict[str, Any], str | None], Any]


class HyperParameterOptimizer:
    def __init__(
        self,
        base_task_id: str,
        hyper_parameters: Sequence[Parameter],
        objective_metric_title: str,
        objective_metric_series: str,
        objective_metric_sign: str = "min",
        optimizer_class: type[SearchStrategy] = RandomSearch,
        max_number_of_concurrent_tasks: int = 10,
        execution_queue: str = "default",
        optimization_time_limit: float | None = None,
        compute_time_limit: float | None = None,
        auto_connect_task: bool = True,
        always_create_task: bool = False,
        spawn_project: str | None = None,
        save_top_k_tasks_only: int | None = None,
        total_max_jobs: int | None = None,
        min_iteration_per_job: int | None = None,
        max_iteration_per_job: int | None = None,
        time_limit_per_job: float | None = None,
        pool_period_min: float = 2.0,
        optimizer_task_id: str | None = None,
        **optimizer_kwargs: Any,
    ) -> None:
        """Time limits are in minutes, like ClearML's: ``optimization_time_limit`` for the
        whole search, ``compute_time_limit`` for the trials' run time together,
        ``time_limit_per_job`` per trial. ``max_iteration_per_job`` stops a trial once its
        objective series reaches that iteration; ``min_iteration_per_job`` is the least a
        trial runs before a pruner may stop it. ``save_top_k_tasks_only`` archives ended
        trials outside the best k. ``optimizer_kwargs`` go to ``optimizer_class``."""
        if max_number_of_concurrent_tasks < 1:
            raise InvalidInput("max_number_of_concurrent_tasks must be 1 or more")
        if not hyper_parameters:
            raise InvalidInput("give at least one hyperparameter range")
        self.objective = Objective(
            objective_metric_title, objective_metric_series, objective_metric_sign
        )
        self.hyper_parameters = list(hyper_parameters)
        self.names = names_of(self.hyper_parameters)
        self.max_concurrent = max_number_of_concurrent_tasks
        self.execution_queue = execution_queue
        self.optimization_time_limit = optimization_time_limit
        self.compute_time_limit = compute_time_limit
        self.save_top_k_tasks_only = save_top_k_tasks_only
        self.total_max_jobs = total_max_jobs
        self.min_iteration_per_job = min_iteration_per_job
        self.max_iteration_per_job = max_iteration_per_job
        self.time_limit_per_job = time_limit_per_job
        self.pool_period_min = pool_period_min
        self.report_period_min = pool_period_min

        config = load_config()
        self._client: ApiClient = shared_client(config.api_url, config.api_token)
        self.base_task = self._client.get_task(base_task_id)
        self.spawn_project = spawn_project
        self.optimizer = optimizer_class(self.hyper_parameters, self.objective, **optimizer_kwargs)
        self._own_task = False
        self.task_id = self._optimizer_task(
            optimizer_task_id, auto_connect_task, always_create_task
        )
        self._report = OptimizerReport(self._client, self.task_id, self.objective, self.names)
        if optimizer_task_id is None:  # a resumed optimizer keeps the spec it started with
            self._report.configuration(self._spec(optimizer_class, optimizer_kwargs))

        self._lock = threading.Lock()
        self._trials: list[Trial] = []
        self._launcher: TrialLauncher | None = None
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._started_at: float | None = None
        self._exhausted = False
        self._error: BaseException | None = None
        self._callback: JobCallback | None = None
        self._compute_minutes = 0.0

    # ----- running ------------------------------------------------------------------------

    def start(self, job_complete_callback: JobCallback | None = None) -> bool:
        """Start the search in a background thread; trials go to ``execution_queue``.

        ``job_complete_callback(task_id, objective_value, objective_iteration, parameters,
        top_task_id)`` is called as each trial ends."""
        return self._start(job_complete_callback, local=False)

    def start_locally(self, job_complete_callback: JobCallback | None = None) -> bool:
        """Like ``start``, but each trial runs here, in a ``tunelab agent execute``
        subprocess, instead of through a queue."""
        return self._start(job_complete_callback, local=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the search to end (``timeout`` in seconds); True if it has. An error of
        the search's own is raised here."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._error is not None:
            raise self._error
        return not self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        """End the search: running trials are asked to stop, none is started."""
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def set_report_period(self, report_period_minutes: float) -> None:
        self.report_period_min = report_period_minutes

    def elapsed(self) -> float:
        """Minutes since ``start`` (-1 before it)."""
        if self._started_at is None:
            return -1.0
        return (time.monotonic() - self._started_at) / 60

    def reached_time_limit(self) -> bool:
        over_total = (
            self.optimization_time_limit is not None
            and self.elapsed() >= self.optimization_time_limit
        )
        over_compute = (
            self.compute_time_limit is not None and self._compute_time() >= self.compute_time_limit
        )
        return bool(over_total or over_compute)

    def get_optimizer(self) -> SearchStrategy:
        return self.optimizer

    @property
    def trials(self) -> list[Trial]:
        """Every trial so far, in the order they were created."""
        with self._lock:
            return list(self._trials)

    def get_num_active_experiments(self) -> int:
        return sum(1 for t in self.trials if not t.ended)

    def get_active_experiments(self) -> list[Task]:
        return [self._task(t.task_id) for t in self.trials if not t.ended]

    # ----- results ------------------------------------------------------------------------

    def get_top_experiments(self, top_k: int) -> list[Task]:
        """The best ``top_k`` ended trials as tasks, best first."""
        return [self._task(t.task_id) for t in self._ranked()[:top_k]]

    def get_top_experiments_id_metrics_pair(self, top_k: int) -> list[tuple[str, dict[str, Any]]]:
        """``[(task_id, {"title", "series", "value", "iteration", "parameters"})]``, best first."""
        return [(t.task_id, self._summary(t)) for t in self._ranked()[:top_k]]

    def _summary(self, trial: Trial) -> dict[str, Any]:
        return {
            "title": self.objective.title,
            "series": self.objective.series,
            "value": trial.objective,
            "iteration": trial.iteration,
            "parameters": dict(trial.parameters),
        }

    def _ranked(self) -> list[Trial]:
        done = [t for t in self.trials if t.ended and t.objective is not None and not t.pruned]
        return sorted(done, key=lambda t: (self.objective.sort_key(t.objective), t.number))

    def _task(self, task_id: str) -> Task:
        return Task(self._client, self._client.get_task(task_id))

    # ----- the loop -----------------------------------------------------------------------

    def _start(self, callback: JobCallback | None, *, local: bool) -> bool:
        if self._thread is not None:
            return False
        self._callback = callback
        self._launcher = TrialLauncher(
            self._client, self.base_task, self.task_id, self.objective,
            queue=self.execution_queue, project=self.spawn_project, local=local,
        )  # fmt: skip
        self._adopt_earlier_trials()
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="tunelab-optimizer", daemon=True)
        self._thread.start()
        return True

    def _adopt_earlier_trials(self) -> None:
        assert self._launcher is not None
        earlier = self._launcher.earlier_trials(self.names)
        self.optimizer.adopt(earlier)
        for trial in earlier:
            if trial.status == "draft":  # created, never sent: the optimizer died in between
                self._launcher.launch(trial)
            self._launcher.refresh(trial)
        self._trials.extend(earlier)
        self.optimizer.adopt_results([t for t in earlier if t.ended])

    def _run(self) -> None:
        try:
            last_report = 0.0
            while not self._stop_event.is_set():
                self._poll()
                if self.reached_time_limit():
                    break
                self._launch()
                if time.monotonic() - last_report >= self.report_period_min * 60:
                    self._report.trials(self.trials)
                    last_report = time.monotonic()
                if self._exhausted and self.get_num_active_experiments() == 0:
                    break
                self._stop_event.wait(self.pool_period_min * 60)
            self._stop_active()
            self._settle()
            self._report.trials(self.trials)
            self._end_task("completed")
        except BaseException as exc:
            self._error = exc
            self._end_task("failed", f"{type(exc).__name__}: {exc}")
        finally:
            if self._launcher is not None:
                self._launcher.close()

    def _launch(self) -> None:
        assert self._launcher is not None
        while not self._exhausted and self.get_num_active_experiments() < self.max_concurrent:
            if self.total_max_jobs is not None and len(self.trials) >= self.total_max_jobs:
                self._exhausted = True
                return
            values = self.optimizer.next_parameters()
            if values is None:
                self._exhausted = True
                return
            trial = self._launcher.create(values, len(self.trials) + 1)
            with self._lock:
                self._trials.append(trial)
            self.optimizer.trial_started(trial)

    def _poll(self, *, apply_limits: bool = True) -> None:
        assert self._launcher is not None
        for trial in self.trials:
            if trial.ended:
                continue
            was_running = trial.started is not None
            self._launcher.refresh(trial)
            if trial.ended:
                self._trial_ended(trial, was_running)
            elif apply_limits and trial.status == "running":
                self._apply_limits(trial)

    def _apply_limits(self, trial: Trial) -> None:
        assert self._launcher is not None and trial.started is not None
        minutes = (time.monotonic() - trial.started) / 60
        if self.time_limit_per_job is not None and minutes >= self.time_limit_per_job:
            self._launcher.stop(trial, "time limit")
            return
        last = trial.last_iteration
        limit = self.max_iteration_per_job
        if limit is not None and last is not None and last + 1 >= limit:
            self._launcher.stop(trial, "max iterations")
            return
        if not self.optimizer.wants_series or trial.stop_reason:
            return
        if self.min_iteration_per_job is not None and (last or 0) < self.min_iteration_per_job:
            return
        if self.optimizer.should_prune(trial, self._launcher.series(trial)):
            self._launcher.stop(trial, "pruned")

    def _trial_ended(self, trial: Trial, was_running: bool) -> None:
        if was_running and trial.started is not None:
            self._compute_minutes += (time.monotonic() - trial.started) / 60
        self.optimizer.trial_ended(trial)
        ranked = self._ranked()
        if self._callback is not None:
            top = ranked[0].task_id if ranked else None
            self._callback(trial.task_id, trial.objective, trial.iteration,
                           dict(trial.parameters), top)  # fmt: skip
        if self.save_top_k_tasks_only is not None:
            for other in ranked[self.save_top_k_tasks_only :]:
                self._client.archive_task(other.task_id)

    def _settle(self) -> None:
        """Look at the trials just asked to stop until they end (for ``SETTLE_SECONDS`` at
        most). One may complete before it sees the request, or have completed just before
        it (``TrialLauncher.stop``): its outcome stands, and it is ranked, and archived under
        ``save_top_k_tasks_only``, like any other."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            self._poll(apply_limits=False)
            left = deadline - time.monotonic()
            if self.get_num_active_experiments() == 0 or left <= 0:
                return
            time.sleep(min(max(self.pool_period_min * 60, 0.1), left))

    def _compute_time(self) -> float:
        running = sum(
            (time.monotonic() - t.started) / 60
            for t in self.trials
            if t.started is not None and not t.ended
        )
        return self._compute_minutes + running

    def _stop_active(self) -> None:
        assert self._launcher is not None
        for trial in self.trials:
            if not trial.ended:
                self._launcher.stop(trial, "optimization ended")

    # ----- the optimizer's own task -------------------------------------------------------

    def _optimizer_task(self, given: str | None, auto_connect: bool, always_create: bool) -> str:
        if given:
            task = self._client.get_task(given)
            # A crashed optimizer left its task running: this run ends it.
            self._own_task = task["status"] == "running"
            return str(task["id"])
        current = Task.current_task()
        if current is not None and auto_connect and not always_create:
            # The running script becomes the optimizer (its own input, written as the run).
            self._client.as_run_client().update_task(current.id, type="optimizer")
            return current.id
        project = self.spawn_project or str(self.base_task["project"]["name"])
        created = self._client.create_task({
            "name": f"Optimizer: {self.base_task['name']}", "project": project,
            "type": "optimizer", "status": "running",
        })  # fmt: skip
        self._own_task = True
        return str(created["id"])

    def _end_task(self, status: str, reason: str = "") -> None:
        if self._own_task:
            self._client.update_task(self.task_id, status=status, status_reason=reason)

    def _spec(
        self, optimizer_class: type[SearchStrategy], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "base_task_id": self.base_task["id"],
            "hyper_parameters": [p.to_dict() for p in self.hyper_parameters],
            "objective": self.objective.to_dict(),
            "optimizer_class": optimizer_class.__name__,
            "optimizer_kwargs": {k: v for k, v in kwargs.items() if _plain(v)},
            "max_number_of_concurrent_tasks": self.max_concurrent,
            "execution_queue": self.execution_queue,
            "total_max_jobs": self.total_max_jobs,
            "optimization_time_limit": self.optimization_time_limit,
            "compute_time_limit": self.compute_time_limit,
            "time_limit_per_job": self.time_limit_per_job,
            "min_iteration_per_job": self.min_iteration_per_job,
            "max_iteration_per_job": self.max_iteration_per_job,
            "save_top_k_tasks_only": self.save_top_k_tasks_only,
            "spawn_project": self.spawn_project,
        }


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))

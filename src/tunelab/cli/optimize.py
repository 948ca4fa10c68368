"""``tunelab optimize``: a hyperparameter search over clones of a task, run by agents.

Example::

    tunelab optimize --base-task 3f2a... --objective loss/val --sign min \\
        --param "Args/lr=loguniform:1e-4:1e-1" --param "Args/batch=int:8:64:8" \\
        --param "Args/opt=choice:adam,sgd" --strategy random --queue gpu \\
        --concurrency 3 --total 12
"""

from __future__ import annotations

from typing import Any

import click

STRATEGIES = ("random", "grid", "optuna")


@click.command()
@click.option("--base-task", "base_task", required=True, help="The task every trial clones.")
@click.option(
    "--param", "params", multiple=True, required=True, metavar="SECTION/NAME=KIND:...",
    help="A range: loguniform:MIN:MAX, uniform:MIN:MAX[:STEP], int:MIN:MAX[:STEP], "
    "choice:A,B,... (repeat for each parameter).",
)  # fmt: skip
@click.option("--objective", required=True, metavar="TITLE/SERIES", help="The scalar to optimize.")
@click.option(
    "--sign", type=click.Choice(["min", "max", "min_global", "max_global"]), default="min",
    show_default=True, help="min/max: of the last value; *_global: of every value reported.",
)  # fmt: skip
@click.option("--strategy", type=click.Choice(STRATEGIES), default="random", show_default=True)
@click.option("--queue", default="default", show_default=True, help="Where trials are enqueued.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Trials in flight at most.",
)
@click.option(
    "--total", type=click.IntRange(min=1), default=10, show_default=True, help="Trials in all."
)
@click.option("--project", default=None, help="Project of the trials (default: the base task's).")
@click.option("--seed", type=int, default=None, help="Repeatable random draws.")
@click.option(
    "--resume",
    "resume_id",
    default=None,
    metavar="OPTIMIZER_TASK_ID",
    help="Go on with an earlier optimizer: its ended trials are not run again.",
)
@click.option(
    "--time-limit-per-job",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="MINUTES",
)
@click.option("--max-iteration-per-job", type=click.IntRange(min=1), default=None)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How often trials are checked.",
)
@click.option(
    "--top", type=click.IntRange(min=0), default=3, show_default=True, help="Best trials printed."
)
def optimize(
    base_task: str,
    params: tuple[str, ...],
    objective: str,
    sign: str,
    strategy: str,
    queue: str,
    concurrency: int,
    total: int,
    project: str | None,
    seed: int | None,
    resume_id: str | None,
    time_limit_per_job: float | None,
    max_iteration_per_job: int | None,
    poll: float,
    top: int,
) -> None:
    """Search hyperparameters: clone BASE_TASK per trial with sampled values, enqueue the
    trials, wait for them and print the best."""
    from tunelab.automation import GridSearch, HyperParameterOptimizer, RandomSearch
    from tunelab.automation.param_specs import parse_parameter
    from tunelab.errors import InvalidInput

    title, sep, series = objective.rpartition("/")
    if not sep or not title or not series:
        raise InvalidInput(f"--objective {objective!r}: write TITLE/SERIES, e.g. loss/val")
    ranges = [parse_parameter(text) for text in params]
    kwargs: dict[str, Any] = {}
    if strategy == "optuna":
        from tunelab.automation.optuna import OptimizerOptuna

        optimizer_class: Any = OptimizerOptuna
        if seed is not None:
            import optuna

            kwargs["optuna_sampler"] = optuna.samplers.TPESampler(seed=seed)
    else:
        optimizer_class = GridSearch if strategy == "grid" else RandomSearch
        if strategy == "random":
            kwargs["seed"] = seed
    optimizer = HyperParameterOptimizer(
        base_task_id=base_task, hyper_parameters=ranges, objective_metric_title=title,
        objective_metric_series=series, objective_metric_sign=sign,
        optimizer_class=optimizer_class, max_number_of_concurrent_tasks=concurrency,
        execution_queue=queue, total_max_jobs=total, spawn_project=project,
        time_limit_per_job=time_limit_per_job, max_iteration_per_job=max_iteration_per_job,
        pool_period_min=poll / 60, auto_connect_task=False, optimizer_task_id=resume_id,
        **kwargs,
    )  # fmt: skip
    click.echo(f"optimizer task {optimizer.task_id}")
    optimizer.start()
    seen: dict[str, str] = {}
    try:
        while True:
            done = optimizer.wait(timeout=poll)
            for trial in optimizer.trials:
                state = "pruned" if trial.pruned and trial.ended else trial.status
                if seen.get(trial.task_id) != state:
                    seen[trial.task_id] = state
                    click.echo(_line(trial, state, optimizer.names))
            if done:
                break
    except KeyboardInterrupt:
        optimizer.stop()
        raise
    click.echo(f"top {top}:")
    for rank, (task_id, result) in enumerate(
        optimizer.get_top_experiments_id_metrics_pair(top), start=1
    ):
        values = " ".join(f"{k}={v!r}" for k, v in result["parameters"].items())
        click.echo(f"{rank}. {task_id} {title}/{series}={result['value']} {values}")


def _line(trial: Any, state: str, names: list[str]) -> str:
    values = " ".join(f"{n}={trial.parameters.get(n)!r}" for n in names)
    objective = "" if trial.objective is None else f" objective={trial.objective}"
    return f"trial {trial.number} {trial.task_id} {state}{objective} {values}"

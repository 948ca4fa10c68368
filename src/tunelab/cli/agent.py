"""``tunelab agent``: serve queues on this machine, or run one task now.

Example::

    tunelab agent daemon --queue gpu --queue default      # gpu first, then default
    tunelab agent daemon --queue default --docker         # each task in a container
    tunelab agent execute --id 3f1c0a...                  # one task, in the foreground
"""

from __future__ import annotations

import sys
from typing import Any

import click

DEFAULT_WORK_DIR = "~/.tunelab/agent"
DEFAULT_IMAGE = "python:3.11-slim"


@click.group()
def agent() -> None:
    """Run queued tasks on this machine."""


_work_dir = click.option(
    "--work-dir",
    default=DEFAULT_WORK_DIR,
    show_default=True,
    help="Where the repository mirrors, environments and task work dirs live.",
)
_stop_grace = click.option(
    "--stop-grace",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds a stopped task gets between SIGTERM and SIGKILL.",
)
_worker_id = click.option("--worker-id", default=None, help="Worker id [default: host:pid].")


@agent.command()
@click.option(
    "--queue",
    "queues",
    multiple=True,
    required=True,
    metavar="NAME",
    help="A queue, highest priority first.",
)
@click.option(
    "--docker",
    "docker_image",
    is_flag=False,
    flag_value=DEFAULT_IMAGE,
    metavar="[IMAGE]",
    default=None,
    help=f"Run each task in a container (the task's image, else IMAGE, else {DEFAULT_IMAGE}).",
)
@_stop_grace
@_work_dir
@_worker_id
@click.option(
    "--poll-timeout",
    type=click.FloatRange(0, 60),
    default=25.0,
    show_default=True,
    help="Seconds one wait for a task lasts; an enqueue ends it at once, and so does a stop.",
)
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Seconds between heartbeats (keep it well under the server's worker timeout).",
)
def daemon(
    queues: tuple[str, ...],
    docker_image: str | None,
    stop_grace: float,
    work_dir: str,
    worker_id: str | None,
    poll_timeout: float,
    heartbeat_interval: float,
) -> None:
    """Take tasks from the queues and run them, one at a time, until SIGTERM."""
    from tunelab.agent.daemon import AgentDaemon

    client, worker, runner, heartbeat = _parts(work_dir, worker_id, stop_grace, docker_image)
    heartbeat.interval = heartbeat_interval
    agent_daemon = AgentDaemon(
        client, worker, list(queues), runner, heartbeat, poll_timeout=poll_timeout
    )
    agent_daemon.install_signal_handlers()
    sys.exit(agent_daemon.serve())


@agent.command()
@click.option("--id", "task_id", required=True, help="The task to run (a draft or queued).")
@click.option("--docker", "docker_image", metavar="IMAGE", default=None, help="Run it in IMAGE.")
@_stop_grace
@_work_dir
@_worker_id
def execute(
    task_id: str, docker_image: str | None, stop_grace: float, work_dir: str, worker_id: str | None
) -> None:
    """Run one task now; exits 0 if it completed.

    In a job a launcher submitted (``tunelab launcher``), the task's own key is the only
    key there: the task is the launcher's, already running, and this runs it."""
    import os

    from tunelab.agent.daemon import AgentDaemon
    from tunelab.agent.launched import SCHEDULER_VARIABLE, execute_as_job, runs_as_job

    client, worker, runner, heartbeat = _parts(work_dir, worker_id, stop_grace, docker_image)
    if runs_as_job(client.token):
        scheduler = os.environ.get(SCHEDULER_VARIABLE) or "the scheduler"
        status = execute_as_job(client, runner, task_id, scheduler)
        click.echo(f"task {task_id}: {status}")
        sys.exit(0 if status == "completed" else 1)
    agent_daemon = AgentDaemon(client, worker, [], runner, heartbeat)
    agent_daemon.install_signal_handlers()
    status = agent_daemon.execute(task_id)
    click.echo(f"task {task_id}: {status}")
    sys.exit(0 if status == "completed" else 1)


def _parts(
    work_dir: str, worker_id: str | None, stop_grace: float, docker_image: str | None
) -> tuple[Any, str, Any, Any]:
    """The client, the worker id, the runner and the heartbeat the daemon is built from."""
    from tunelab.agent.daemon import default_worker_id
    from tunelab.agent.environment import EnvironmentBuilder
    from tunelab.agent.heartbeat import Heartbeat
    from tunelab.agent.launcher import Launcher
    from tunelab.agent.repository import RepositoryCache
    from tunelab.agent.runner import TaskRunner
    from tunelab.cli.connection import api_client
    from tunelab.cli.work_dirs import made_work_dir

    root = made_work_dir(work_dir)
    client = api_client()
    worker = worker_id or default_worker_id()
    runner = TaskRunner(
        client,
        RepositoryCache(root / "repos"),
        EnvironmentBuilder(root / "envs"),
        Launcher,
        root / "tasks",
        stop_grace=stop_grace,
        docker_image=docker_image,
    )
    return client, worker, runner, Heartbeat(client, worker)

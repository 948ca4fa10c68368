"""``tunelab launcher``: serve a queue by submitting its tasks as jobs to a scheduler.

Example::

    tunelab launcher --queue gpu --backend slurm --max-jobs 8 \\
        --work-dir /shared/tunelab --partition gpu --account ml --sbatch=--qos=normal
    tunelab launcher --queue gpu --backend kubernetes --namespace ml \\
        --image ghcr.io/acme/train:1 --job-template job.yaml
    tunelab launcher --queue cloud --backend cloud --max-jobs 4 --idle-minutes 5
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import click

from tunelab.cli.launcher_cloud import cloud_backend, cloud_options
from tunelab.cli.launcher_kubernetes import kubernetes_backend, kubernetes_options
from tunelab.cli.work_dirs import made_work_dir


@click.command()
@click.option("--queue", required=True, metavar="NAME", help="The queue to serve.")
@click.option(
    "--backend",
    type=click.Choice(["slurm", "kubernetes", "cloud"]),
    default="slurm",
    show_default=True,
    help="The scheduler the tasks go to.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Jobs in flight at most; no task is taken while that many are.",
)
@click.option(
    "--work-dir",
    default="~/.tunelab/launcher",
    show_default=True,
    help="A directory every node sees (shared): batch scripts, job logs, and the jobs' "
    "repository mirrors, environments and task dirs.",
)
@click.option("--worker-id", default=None, help="Worker id [default: host:slurm:QUEUE].")
@click.option(
    "--stop-grace",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds a stopped task's processes get between SIGTERM and the job's cancel.",
)
@click.option(
    "--poll-timeout",
    type=click.FloatRange(0, 60),
    default=25.0,
    show_default=True,
    help="Seconds one wait for a task lasts; an enqueue ends it at once.",
)
@click.option(
    "--check-interval",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Seconds between reads of the jobs' states (and heartbeats).",
)
@click.option("--partition", default="", help="Slurm partition of every job.")
@click.option("--account", default="", help="Slurm account of every job.")
@click.option(
    "--sbatch",
    "sbatch_options",
    multiple=True,
    metavar="OPTION",
    help="An extra #SBATCH line, e.g. --sbatch=--qos=normal (repeat for more).",
)
@click.option(
    "--tunelab",
    "tunelab_command",
    default=None,
    help="The tunelab command on the nodes [default: the one running this launcher; in a "
    "Kubernetes pod: tunelab].",
)
@kubernetes_options
@cloud_options
def launcher(
    queue: str,
    backend: str,
    max_jobs: int,
    work_dir: str,
    worker_id: str | None,
    stop_grace: float,
    poll_timeout: float,
    check_interval: float,
    partition: str,
    account: str,
    sbatch_options: tuple[str, ...],
    tunelab_command: str | None,
    **kube: Any,
) -> None:
    """Take tasks from QUEUE and run each as a job (tunelab agent execute --id TASK)."""
    import socket

    from tunelab.cli.connection import api_client
    from tunelab.launchers.base import Launcher
    from tunelab.launchers.slurm import Slurm

    if backend == "kubernetes":
        worker = worker_id or f"{socket.gethostname()}:{backend}:{queue}"
        engine = kubernetes_backend(worker, kube)
        pod_dir = kube["pod_work_dir"]
        command = [tunelab_command or "tunelab", "agent", "execute", "--work-dir", pod_dir]
        served = Launcher(
            api_client(), worker, queue, engine, max_jobs=max_jobs, command=command,
            stop_grace=stop_grace, poll_timeout=poll_timeout, check_interval=check_interval,
        )  # fmt: skip
        served.install_signal_handlers()
        sys.exit(served.serve())
    if backend == "cloud":
        # Each task has an instance of its own: the agent's work dir is the instance's.
        command = [tunelab_command or "tunelab", "agent", "execute", "--work-dir", "~/tunelab"]
        served = Launcher(
            api_client(), worker_id or f"{socket.gethostname()}:{backend}:{queue}", queue,
            cloud_backend(kube), max_jobs=max_jobs, command=command, stop_grace=stop_grace,
            poll_timeout=poll_timeout, check_interval=check_interval,
        )  # fmt: skip
        served.install_signal_handlers()
        sys.exit(served.serve())
    root = made_work_dir(work_dir)
    command = [
        tunelab_command or _tunelab(), "agent", "execute", "--work-dir", str(root / "agent"),
    ]  # fmt: skip
    served = Launcher(
        api_client(),
        worker_id or f"{socket.gethostname()}:{backend}:{queue}",
        queue,
        Slurm(root, partition=partition, account=account, extra=sbatch_options),
        max_jobs=max_jobs,
        command=command,
        stop_grace=stop_grace,
        poll_timeout=poll_timeout,
        check_interval=check_interval,
    )
    served.install_signal_handlers()
    sys.exit(served.serve())


def _tunelab() -> str:
    """The ``tunelab`` beside this Python (a virtual environment's), else the one on PATH."""
    beside = Path(sys.executable).parent / "tunelab"
    return str(beside) if beside.exists() else shutil.which("tunelab") or "tunelab"

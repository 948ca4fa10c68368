"""The SkyPilot task a cloud job is: the task's resources as SkyPilot's, the command as its
``run`` section, the task's key as a SkyPilot secret.

A plain dictionary in SkyPilot's task YAML form (what ``sky launch task.yaml`` reads and
``sky.Task.from_yaml_config`` takes), built without SkyPilot, so the Run form can show it
and the launcher can hand it over. The task's resources map to SkyPilot's as:

    cloud + region        infra: aws/us-east-1
    instance_type         instance_type: p3.2xlarge
    gpus + gpu_type       accelerators: A100:2
    cpus, memory          cpus: "4", memory: "16"   (GB; SkyPilot reads "at least" with a +)
    spot                  use_spot: true
    disk_size             disk_size: 100            (GB)

The job's environment carries the server's address and the launcher's name (``envs``) and
the task's own key under ``secrets``, which SkyPilot keeps out of its logs and dashboards;
nothing else of the launcher's environment (its cloud credentials among it) goes along.

Example::

    config = sky_task(JobRequest(task_id, "train", Resources(cloud="aws", gpus=1,
                      gpu_type="A100"), command, env), setup=DEFAULT_SETUP)
    config["resources"]        # {"infra": "aws", "accelerators": "A100:1"}
    task_yaml(config)          # the YAML, the key masked
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from tunelab.agent.launched import SCHEDULER_VARIABLE
from tunelab.domain.resources import Resources, size_megabytes
from tunelab.launchers.base import JobRequest, LaunchError

# What the instance runs before the job: tunelab itself (the image has Python and pip).
DEFAULT_SETUP = "pip install --quiet --upgrade tunelab"
CLUSTER_PREFIX = "tunelab-"
KEY_VARIABLE = "TUNELAB_API_TOKEN"
# Variables of the launcher's environment a job gets; the key goes as a secret.
PASSED = ("TUNELAB_API_URL", SCHEDULER_VARIABLE, "PYTHONUNBUFFERED")
MASK = "<the task's key>"


def cluster_name(task_id: str) -> str:
    """The task's own cluster: one per task, torn down when its job ends."""
    return f"{CLUSTER_PREFIX}{task_id.lower()}"


def sky_resources(resources: Resources) -> dict[str, Any]:
    """SkyPilot's ``resources`` section for a task's resources; LaunchError for what a cloud
    cannot be asked (GPUs without their kind and without an instance type)."""
    out: dict[str, Any] = {}
    where = "/".join(part for part in (resources.cloud, resources.region) if part)
    if resources.region and not resources.cloud:
        raise LaunchError("a region needs its cloud (resources.cloud, e.g. aws)")
    if where:
        out["infra"] = where.lower()
    if resources.instance_type:
        out["instance_type"] = resources.instance_type
    if resources.gpus:
        if not resources.gpu_type:
            if not resources.instance_type:
                raise LaunchError(
                    "a cloud needs the GPUs' kind (resources.gpu_type, e.g. A100) or an "
                    "instance type"
                )
        else:
            out["accelerators"] = f"{resources.gpu_type}:{resources.gpus}"
    if resources.cpus:
        out["cpus"] = str(resources.cpus)
    if resources.memory:
        out["memory"] = str(_gigabytes(resources.memory))
    if resources.spot:
        out["use_spot"] = True
    if resources.disk_size:
        out["disk_size"] = _gigabytes(resources.disk_size)
    return out


def _gigabytes(size: str) -> int:
    """A kept size in whole gigabytes, rounded up (SkyPilot counts GB)."""
    return max(1, -(-size_megabytes(size) // 1024))


def sky_task(job: JobRequest, *, setup: str = DEFAULT_SETUP) -> dict[str, Any]:
    """The SkyPilot task (YAML form) running ``job``."""
    envs = {name: job.env[name] for name in PASSED if job.env.get(name)}
    task: dict[str, Any] = {"name": cluster_name(job.task_id)}
    resources = sky_resources(job.resources)
    if resources:
        task["resources"] = resources
    task["envs"] = envs
    task["secrets"] = {KEY_VARIABLE: job.env.get(KEY_VARIABLE, "")}
    if setup.strip():
        task["setup"] = setup
    task["run"] = f"exec {shlex.join(job.command)}\n"
    return task


def masked(task: Mapping[str, Any]) -> dict[str, Any]:
    """``task`` with its secrets' values hidden, for a page or a log."""
    shown = dict(task)
    if "secrets" in shown:
        shown["secrets"] = {name: MASK for name in shown["secrets"]}
    return shown


def task_yaml(task: Mapping[str, Any]) -> str:
    """The task as YAML, its secrets masked (what the Run form's Script tab shows).

    JSON is YAML: each value is written as a JSON scalar, so no YAML library is needed and
    no value can be read back as another type."""
    lines: list[str] = []
    for key, value in masked(task).items():
        if isinstance(value, Mapping):
            lines.append(f"{key}:" if value else f"{key}: {{}}")
            lines += [f"  {name}: {json.dumps(item)}" for name, item in value.items()]
        elif isinstance(value, str) and "\n" in value.strip("\n"):
            lines.append(f"{key}: |")
            lines += [f"  {line}" for line in value.strip("\n").split("\n")]
        else:
            lines.append(
                f"{key}: {json.dumps(value.rstrip() if isinstance(value, str) else value)}"
            )
    return "\n".join(lines) + "\n"

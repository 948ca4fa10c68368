"""The Kubernetes objects a task's job is made of: a ``batch/v1`` Job and the Secret with the
task's key, as plain dictionaries (what ``kubectl apply -f`` reads).

The Job runs one pod (``backoffLimit: 0``, ``restartPolicy: Never``: a failed run is the
task's outcome, not something to retry) whose only container runs ``tunelab agent execute
--id TASK``. The task's resources become requests and limits (``cpu``, ``memory``,
``nvidia.com/gpu``; a GPU type a node selector, or a resource name of its own), its time
limit ``activeDeadlineSeconds``. The key comes from the Secret through ``secretKeyRef``, so
it is in no manifest. A job template (YAML, as ClearML's k8s glue takes one) lies under the
generated Job: it gives defaults and extra fields (volumes, annotations, a priority class,
sidecars...), and the generated fields win where both set one (see ``merge``).

Example::

    spec = JobSpec(namespace="ml", image="python:3.12", ttl_seconds=3600)
    job = job_manifest(spec, "tunelab-4f2a-x8k2q", request, launcher="login1:kubernetes:gpu")
    secret = secret_manifest(spec, "tunelab-4f2a-x8k2q", request, launcher="login1:kubernetes:gpu")
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tunelab.agent.launched import SCHEDULER_VARIABLE
from tunelab.launchers.base import JobRequest

# The variable the key travels in, and the Secret's key holding it.
KEY_VARIABLE = "TUNELAB_API_TOKEN"
CONTAINER = "task"
TASK_LABEL = "tunelab.ai/task-id"
LAUNCHER_LABEL = "tunelab.ai/launcher"
MANAGED_BY = {"app.kubernetes.io/managed-by": "tunelab"}
# The variables of the launcher's environment a pod gets: Tunelab's own (the server, the
# scheduler's name) and unbuffered output; the rest is the launcher host's, not the image's.
PASSED_VARIABLES = ("TUNELAB_API_URL", SCHEDULER_VARIABLE, "PYTHONUNBUFFERED")

_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")
_NAME = re.compile(r"[^a-z0-9-]")


@dataclass(frozen=True)
class JobSpec:
    """What a launcher puts in every Job besides the task's own: where and how it runs."""

    namespace: str = "default"
    image: str = "python:3.12-slim"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    service_account: str = ""
    image_pull_secrets: tuple[str, ...] = ()
    ttl_seconds: int = 3600
    gpu_resource: str = "nvidia.com/gpu"
    # The node label a task's GPU type selects (``nvidia.com/gpu.product=A100-SXM4-80GB``);
    # empty: the type names a resource of its own beside ``gpu_resource``
    # (``nvidia.com/mig-1g.10gb``).
    gpu_type_label: str = "nvidia.com/gpu.product"
    template: Mapping[str, Any] = field(default_factory=dict)


def label_value(text: str) -> str:
    """``text`` as a label value (63 characters of ``[A-Za-z0-9_.-]``, alphanumeric ends); a
    hash tail keeps two long values apart."""
    value = _LABEL_VALUE.sub("-", text).strip("-_.")
    if len(value) > 63 or value != text:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        value = f"{value[:54].strip('-_.')}-{digest}"
    return value


def job_name(task_id: str) -> str:
    """A new Job name for the task: ``tunelab-TASK-xxxxx`` (a task run again gets a new one,
    while the Job of its last run may still be kept for its TTL)."""
    tail = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    return f"tunelab-{_NAME.sub('-', task_id.lower())[:44].strip('-')}-{tail}"


def labels(task_id: str, launcher: str) -> dict[str, str]:
    return {
        **MANAGED_BY,
        TASK_LABEL: label_value(task_id),
        LAUNCHER_LABEL: label_value(launcher),
    }


def launcher_selector(launcher: str) -> str:
    return f"{LAUNCHER_LABEL}={label_value(launcher)}"


def secret_manifest(spec: JobSpec, name: str, job: JobRequest, launcher: str) -> dict[str, Any]:
    """The Secret holding the task's key (named as its Job)."""
    key = job.env.get(KEY_VARIABLE, "")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": labels(job.task_id, launcher),
        },
        "data": {KEY_VARIABLE: base64.b64encode(key.encode()).decode()},
    }


def resources(spec: JobSpec, job: JobRequest) -> tuple[dict[str, str], dict[str, str]]:
    """The container's requests and limits, and the node selector a GPU type adds."""
    wanted = job.resources
    amounts: dict[str, str] = {}
    selector: dict[str, str] = {}
    if wanted.cpus:
        amounts["cpu"] = str(wanted.cpus)
    if wanted.memory_megabytes:
        amounts["memory"] = f"{wanted.memory_megabytes}Mi"
    if wanted.gpus:
        gpu_resource = spec.gpu_resource
        if wanted.gpu_type and spec.gpu_type_label:
            selector[spec.gpu_type_label] = wanted.gpu_type
        elif wanted.gpu_type:
            prefix = spec.gpu_resource.rpartition("/")[0]
            gpu_resource = f"{prefix}/{wanted.gpu_type}" if prefix else wanted.gpu_type
        amounts[gpu_resource] = str(wanted.gpus)
    return amounts, selector


def job_manifest(spec: JobSpec, name: str, job: JobRequest, launcher: str) -> dict[str, Any]:
    """The Job running ``job``: the generated fields over the launcher's template."""
    amounts, gpu_selector = resources(spec, job)
    env: list[dict[str, Any]] = [
        {"name": variable, "value": job.env[variable]}
        for variable in PASSED_VARIABLES
        if variable in job.env
    ]
    env.append(
        {
            "name": KEY_VARIABLE,
            "valueFrom": {"secretKeyRef": {"name": name, "key": KEY_VARIABLE}},
        }
    )
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": job.image or spec.image,
        "command": list(job.command),
        "env": env,
    }
    if amounts:
        container["resources"] = {"requests": dict(amounts), "limits": dict(amounts)}
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    node_selector = {**spec.node_selector, **gpu_selector}
    if node_selector:
        pod["nodeSelector"] = node_selector
    if spec.tolerations:
        pod["tolerations"] = [dict(t) for t in spec.tolerations]
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    if spec.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": secret} for secret in spec.image_pull_secrets]
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,
        "ttlSecondsAfterFinished": spec.ttl_seconds,
        "template": {"metadata": {"labels": labels(job.task_id, launcher)}, "spec": pod},
    }
    if job.resources.time_limit_seconds:
        job_spec["activeDeadlineSeconds"] = job.resources.time_limit_seconds
    generated = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": labels(job.task_id, launcher),
            "annotations": {TASK_LABEL: job.task_id, LAUNCHER_LABEL: launcher},
        },
        "spec": job_spec,
    }
    return merge(spec.template, generated)


def merge(template: Mapping[str, Any], generated: Mapping[str, Any]) -> dict[str, Any]:
    """``generated`` over ``template``, as ClearML's k8s glue merges its pod template.

    Mappings merge key by key, the generated value winning where both have one. The
    template's first container is the task's: merged with the generated one, their ``env``
    by variable name (the generated variables win). Any other list is the generated one
    where it sets that field, else the template's (so a template's tolerations hold unless
    the launcher was given its own).
    """
    merged: dict[str, Any] = copy.deepcopy(dict(template))
    for key, value in generated.items():
        here = merged.get(key)
        if key == "containers" and isinstance(here, list) and here:
            merged[key] = [_merge_container(here[0], value[0]), *copy.deepcopy(here[1:])]
        elif isinstance(value, Mapping) and isinstance(here, Mapping):
            merged[key] = merge(here, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_container(template: Mapping[str, Any], generated: Mapping[str, Any]) -> dict[str, Any]:
    merged = merge({k: v for k, v in template.items() if k != "env"}, generated)
    ours = {variable["name"] for variable in generated.get("env", [])}
    theirs = [variable for variable in template.get("env", []) if variable["name"] not in ours]
    merged["env"] = [*copy.deepcopy(theirs), *copy.deepcopy(generated.get("env", []))]
    return merged


def parse_toleration(text: str) -> dict[str, str]:
    """A toleration from ``KEY[=VALUE]:EFFECT`` (a taint as ``kubectl taint`` writes it),
    ``KEY[=VALUE]`` for any effect; ValueError for anything else."""
    rest, _, effect = text.rpartition(":") if ":" in text else (text, "", "")
    key, equals, value = rest.partition("=")
    if not key or (effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute")):
        raise ValueError(f"{text!r} is not KEY[=VALUE][:NoSchedule|PreferNoSchedule|NoExecute]")
    toleration = {"key": key, "operator": "Equal" if equals else "Exists"}
    if equals:
        toleration["value"] = value
    if effect:
        toleration["effect"] = effect
    return toleration


def load_template(text: str) -> dict[str, Any]:
    """A job template from YAML: a ``batch/v1`` Job (or a part of one); ValueError else."""
    import yaml  # type: ignore[import-untyped]

    try:
        template = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {exc}") from exc
    if template is None:
        return {}
    if not isinstance(template, dict):
        raise ValueError("a job template is a mapping (a batch/v1 Job)")
    if template.get("kind", "Job") != "Job":
        raise ValueError(f"a job template is a Job, not a {template['kind']}")
    return template
